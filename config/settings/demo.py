"""`make run`: the product as a customer first sees it, on one machine.

DEBUG is off, so a wrong address or a fault shows the product's own pages in the visitor's
language, never a technical page with settings and code. Everything else is the development
setup: the SQLite file and the secret key under var/, static files served by WhiteNoise from
their sources, mail kept in the local mailbox (var/mail/, one .eml file per mail), links in
mail built on http://127.0.0.1:$PORT unless MIANTAN_BASE_URL says otherwise.
"""

from .dev import *

DEBUG = False
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
# Unknown addresses and refused requests are the visitor's business, not the terminal's; server
# errors are still logged there.
LOGGING["loggers"]["django.request"] = {"level": "ERROR"}
