// The drawn signature on a record's signing form (PRODUCT.md D1). Drawing is optional: the pad
// shows only where this script runs, draws with pointer events (a finger, a pen or a mouse)
// and, when the form is sent, puts the drawing into the hidden input as a PNG data URL;
// an empty pad sends nothing. The canvas keeps a fixed size in pixels and is scaled to the
// card's width by the stylesheet, so a turned phone keeps what was drawn.
(function () {
  "use strict";
  var INK = "#1d2733";
  var WIDTH = 4; // in canvas pixels, about 1.5 px on a phone's screen

  function setUp(form) {
    var pad = form.querySelector("[data-signature-pad]");
    var canvas = form.querySelector("[data-signature-canvas]");
    var input = form.querySelector("[data-signature-input]");
    var clear = form.querySelector("[data-signature-clear]");
    if (!pad || !canvas || !input || !canvas.getContext) {
      return;
    }
    var context = canvas.getContext("2d");
    var drawn = false;
    var last = null;
    pad.hidden = false;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.lineWidth = WIDTH;
    context.strokeStyle = INK;
    context.fillStyle = INK;

    function point(event) {
      var box = canvas.getBoundingClientRect();
      return {
        x: ((event.clientX - box.left) * canvas.width) / box.width,
        y: ((event.clientY - box.top) * canvas.height) / box.height,
      };
    }

    function dot(at) {
      context.beginPath();
      context.arc(at.x, at.y, WIDTH / 2, 0, Math.PI * 2);
      context.fill();
      drawn = true;
    }

    function line(from, to) {
      context.beginPath();
      context.moveTo(from.x, from.y);
      context.lineTo(to.x, to.y);
      context.stroke();
      drawn = true;
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (event.pointerType === "mouse" && event.button !== 0) {
        return;
      }
      event.preventDefault();
      if (canvas.setPointerCapture) {
        canvas.setPointerCapture(event.pointerId);
      }
      last = point(event);
      dot(last);
    });

    canvas.addEventListener("pointermove", function (event) {
      if (!last) {
        return;
      }
      event.preventDefault();
      // A fast stroke delivers several positions per frame: draw through all of them.
      var events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
      if (!events.length) {
        events = [event];
      }
      events.forEach(function (each) {
        var next = point(each);
        line(last, next);
        last = next;
      });
    });

    function stop() {
      last = null;
    }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    canvas.addEventListener("lostpointercapture", stop);

    if (clear) {
      clear.addEventListener("click", function () {
        context.clearRect(0, 0, canvas.width, canvas.height);
        drawn = false;
        input.value = "";
      });
    }

    form.addEventListener("submit", function () {
      input.value = drawn ? canvas.toDataURL("image/png") : "";
    });
  }

  document.querySelectorAll("[data-signature-form]").forEach(setUp);
})();
