"""The templates every organisation starts with (PRODUCT.md C1), worded after how Chinese
organisations hold their 绩效面谈: the employee fills 做得好的 / 需改进的 / 改进计划, the manager
writes the assessment, both comment on the KPI table, and the overall rating of the reviews is
given by each side independently and shown when both have submitted.

`install_builtin_templates` (records.templates) copies these into an organisation; from then
on they are the organisation's own and HR may change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from miantan.interviews.enums import Topic

from .enums import FieldType, Filler

ANNUAL = "annual_review"
QUARTERLY = "quarterly_review"
MONTHLY = "monthly_check_in"
NEW_HIRE = "new_hire_coaching"
IMPROVEMENT = "improvement_talk"
CAREER = "career_development"
PROMOTION = "promotion_title"


def _t(zh: str, en: str) -> dict[str, str]:
    return {"zh-hans": zh, "en": en}


def _field(
    key: str, kind: str, zh: str, en: str, hint: dict[str, str] | None = None, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {"key": key, "type": kind, "label": _t(zh, en)}
    if hint:
        data["help"] = hint
    data.update(extra)
    return data


def _section(
    key: str,
    zh: str,
    en: str,
    filled_by: str,
    fields: list[dict[str, Any]],
    hint: dict[str, str] | None = None,
    *,
    sealed: bool = False,
    repeatable: bool = False,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": key,
        "title": _t(zh, en),
        "filled_by": str(filled_by),
        "fields": fields,
    }
    if hint:
        data["help"] = hint
    if sealed:
        data["sealed"] = True
    if repeatable:
        data["repeatable"] = True
    return data


# --- rating scales ---------------------------------------------------------------------------

PERFORMANCE_ANCHORS = {
    "1": _t("远低于期望：主要目标未完成", "Far below expectations: key goals missed"),
    "2": _t("低于期望：部分目标未完成", "Below expectations: some goals missed"),
    "3": _t("符合期望：目标基本完成", "Meets expectations: goals met"),
    "4": _t("超出期望：目标超额完成", "Exceeds expectations: goals exceeded"),
    "5": _t("远超期望：表现卓越，可作榜样", "Far exceeds expectations: a model for others"),
}

SETTLING_ANCHORS = {
    "1": _t("很吃力，需要大量帮助", "Struggling, needs a lot of help"),
    "2": _t("仍在适应，需要较多指导", "Still settling in, needs guidance"),
    "3": _t("基本适应，能独立完成日常工作", "Settled, handles daily work alone"),
    "4": _t("适应良好，开始主动承担", "Well settled, takes initiative"),
    "5": _t("完全融入，已能带动他人", "Fully at home, helps others along"),
}


# --- sections shared by several templates ----------------------------------------------------


def went_well(period_zh: str, period_en: str) -> dict[str, Any]:
    """做得好的: project, completion rate, key behaviour, team contribution (seed 001)."""
    return _section(
        "went_well",
        "做得好的",
        "What went well",
        Filler.EMPLOYEE,
        [
            _field("project", FieldType.SHORT_TEXT, "项目名称", "Project", required=True),
            _field(
                "completion",
                FieldType.NUMBER,
                "目标完成率",
                "Completion rate",
                _t("按目标计算的完成比例，0–100。", "Share of the target reached, 0–100."),
                min=0,
                max=100,
                unit="%",
            ),
            _field(
                "key_behaviour",
                FieldType.LONG_TEXT,
                "关键行为",
                "Key behaviour",
                _t("你具体做了什么，让结果得以实现？", "What exactly did you do to get there?"),
            ),
            _field(
                "team_contribution",
                FieldType.LONG_TEXT,
                "团队贡献",
                "Contribution to the team",
                _t("例如：帮助团队降低成本15%。", "For example: helped the team cut costs by 15%."),
            ),
        ],
        _t(
            f"{period_zh}的成果，每个项目一条。例如：“项目A：完成率100%，主导了核心模块开发，"
            "帮助团队降低成本15%”。",
            f"Results of {period_en}, one entry per project. For example: “Project A: 100% "
            "complete, led the core module, helped the team cut costs by 15%”.",
        ),
        repeatable=True,
    )


def to_improve(period_zh: str, period_en: str) -> dict[str, Any]:
    """需改进的: event, impact, own shortcoming (seed 001)."""
    return _section(
        "to_improve",
        "需改进的",
        "What to improve",
        Filler.EMPLOYEE,
        [
            _field("event", FieldType.SHORT_TEXT, "具体事件", "What happened", required=True),
            _field("impact", FieldType.LONG_TEXT, "影响", "Impact"),
            _field(
                "shortcoming",
                FieldType.LONG_TEXT,
                "自身不足",
                "My own shortcoming",
                _t(
                    "写具体的行为，而不是“加强团队合作”这样笼统的话。",
                    "Name the behaviour, not a general phrase such as “more teamwork”.",
                ),
            ),
        ],
        _t(
            f"{period_zh}中做得不够好的地方，每件事一条。例如：“项目B：因未及时与测试团队沟通，"
            "导致bug修复延迟2天，影响项目上线时间”。",
            f"What did not go well in {period_en}, one entry per event. For example: “Project "
            "B: I did not talk to the test team in time, bug fixes slipped by 2 days and the "
            "release was late”.",
        ),
        repeatable=True,
    )


def improvement_plan(filled_by: str = Filler.EMPLOYEE) -> dict[str, Any]:
    """改进计划: goal, steps, dates, support needed (seed 001), as a SMART goal list."""
    return _section(
        "plan",
        "改进计划",
        "Improvement plan",
        filled_by,
        [
            _field(
                "goals",
                FieldType.GOALS,
                "目标与行动步骤",
                "Goals and steps",
                _t(
                    "每个目标写清：目标（具体、可衡量）、行动步骤、时间节点、所需支持。例如："
                    "“3个月内将bug修复时间缩短50%；每周与测试团队开1次同步会；"
                    "所需支持：测试工具培训名额”。",
                    "For each goal: the goal (specific, measurable), the steps, the dates and "
                    "the support needed. For example: “Halve bug-fixing time within 3 months; "
                    "a weekly sync with the test team; support: a place on the test-tool "
                    "training”.",
                ),
                required=True,
            ),
        ],
        _t(
            "改进计划由你自己制定，你更愿意为自己的承诺负责。",
            "You write your own plan: a promise of your own is easier to keep.",
        ),
    )


def kpi_review(zh: str = "关键指标完成情况", en: str = "KPI results") -> dict[str, Any]:
    return _section(
        "kpis",
        zh,
        en,
        Filler.BOTH,
        [
            _field(
                "kpis",
                FieldType.KPI_TABLE,
                "关键指标",
                "KPIs",
                _t(
                    "实际值与目标值从绩效数据中带入；双方可在每一行写下说明。",
                    "Actual and target figures come from the performance data; either side "
                    "may comment on each row.",
                ),
            )
        ],
    )


def manager_assessment(*, with_rating: bool) -> dict[str, Any]:
    fields = [
        _field(
            "assessment",
            FieldType.LONG_TEXT,
            "绩效回顾与评价",
            "Review and assessment",
            _t(
                "结合目标与数据总结表现，肯定贡献，指出差距。",
                "Sum up the performance against the goals and the data: credit the "
                "contribution, name the gaps.",
            ),
            required=True,
        ),
        _field("strengths", FieldType.LONG_TEXT, "优势与亮点", "Strengths"),
        _field("development", FieldType.LONG_TEXT, "待提升点", "Areas to develop"),
    ]
    if with_rating:
        fields.append(
            _field(
                "rating",
                FieldType.RATING,
                "综合评级",
                "Overall rating",
                min=1,
                max=5,
                anchors=PERFORMANCE_ANCHORS,
                required=True,
            )
        )
    return _section(
        "manager",
        "上级评价",
        "Manager's assessment",
        Filler.MANAGER,
        fields,
        _t(
            "由上级填写。可在员工自评上直接评论，员工修改后再确认。",
            "Written by the manager. Comment on the self-assessment; the employee revises it "
            "before both confirm.",
        ),
    )


def overall_rating() -> dict[str, Any]:
    return _section(
        "overall",
        "综合评分",
        "Overall rating",
        Filler.BOTH,
        [
            _field(
                "rating",
                FieldType.RATING,
                "综合评分",
                "Overall rating",
                min=1,
                max=5,
                anchors=PERFORMANCE_ANCHORS,
                required=True,
            ),
            _field("reason", FieldType.LONG_TEXT, "评分理由", "Why this rating"),
        ],
        _t(
            "双方各自独立评分，互不可见；双方都提交后同时揭晓。",
            "Each side rates on its own, unseen by the other; both ratings are shown once "
            "both have submitted.",
        ),
        sealed=True,
    )


def agreement() -> dict[str, Any]:
    return _section(
        "agreement",
        "沟通共识与后续跟进",
        "Agreement and follow-up",
        Filler.BOTH,
        [
            _field(
                "employee_feedback",
                FieldType.LONG_TEXT,
                "员工反馈",
                "Employee's feedback",
                _t(
                    "员工对面谈内容的看法、疑问与需要的支持。",
                    "The employee's view of the talk, questions and the support needed.",
                ),
            ),
            _field(
                "agreements",
                FieldType.LONG_TEXT,
                "双方达成的共识",
                "What both agreed",
                required=True,
            ),
            _field("next_talk", FieldType.DATE, "下次面谈时间", "Next talk"),
        ],
    )


# --- the templates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltinTemplate:
    key: str
    name: dict[str, str]
    description: dict[str, str]
    topics: tuple[str, ...]
    definition: dict[str, Any]


def _review(period_zh: str, period_en: str) -> dict[str, Any]:
    return {
        "sections": [
            went_well(period_zh, period_en),
            to_improve(period_zh, period_en),
            improvement_plan(),
            kpi_review(),
            manager_assessment(with_rating=False),
            overall_rating(),
            agreement(),
        ]
    }


def _monthly() -> dict[str, Any]:
    return {
        "sections": [
            went_well("本月", "this month"),
            _section(
                "obstacles",
                "困难与所需支持",
                "Obstacles and support needed",
                Filler.EMPLOYEE,
                [
                    _field("obstacles", FieldType.LONG_TEXT, "遇到的困难", "Obstacles"),
                    _field("support", FieldType.LONG_TEXT, "需要的支持", "Support needed"),
                ],
            ),
            kpi_review("本月关键指标", "KPIs this month"),
            _section(
                "feedback",
                "上级反馈",
                "Manager's feedback",
                Filler.MANAGER,
                [
                    _field(
                        "feedback",
                        FieldType.LONG_TEXT,
                        "反馈与认可",
                        "Feedback and recognition",
                        _t(
                            "具体地肯定做得好的地方，例如“你在项目C中的技术支持，帮助团队提前"
                            "2周完成交付”。",
                            "Credit what went well, specifically: “your technical support in "
                            "project C let the team deliver 2 weeks early”.",
                        ),
                        required=True,
                    ),
                    _field("development", FieldType.LONG_TEXT, "待提升点", "Areas to develop"),
                    _field(
                        "rating",
                        FieldType.RATING,
                        "本月表现",
                        "This month's performance",
                        min=1,
                        max=5,
                        anchors=PERFORMANCE_ANCHORS,
                    ),
                ],
            ),
            _section(
                "next_month",
                "下月重点",
                "Focus for next month",
                Filler.BOTH,
                [_field("goals", FieldType.GOALS, "下月目标", "Goals for next month")],
            ),
        ]
    }


def _new_hire() -> dict[str, Any]:
    return {
        "sections": [
            _section(
                "settling_in",
                "入职适应情况",
                "Settling in",
                Filler.EMPLOYEE,
                [
                    _field(
                        "work_so_far",
                        FieldType.LONG_TEXT,
                        "入职以来的工作内容",
                        "Work so far",
                        required=True,
                    ),
                    _field(
                        "learned",
                        FieldType.LONG_TEXT,
                        "已掌握的技能与流程",
                        "Skills and procedures learned",
                    ),
                    _field("difficulties", FieldType.LONG_TEXT, "遇到的困难", "Difficulties"),
                    _field(
                        "settling",
                        FieldType.RATING,
                        "融入程度自评",
                        "How settled I feel",
                        min=1,
                        max=5,
                        anchors=SETTLING_ANCHORS,
                    ),
                ],
                _t(
                    "新员工填写：说说这段时间的工作、收获和困难。",
                    "For the new colleague: the work so far, what you learned and what is hard.",
                ),
            ),
            _section(
                "coaching",
                "上级/导师辅导意见",
                "Manager's or mentor's coaching",
                Filler.MANAGER,
                [
                    _field(
                        "strengths", FieldType.LONG_TEXT, "表现亮点", "Strengths", required=True
                    ),
                    _field("development", FieldType.LONG_TEXT, "待提升点", "Areas to develop"),
                    _field(
                        "probation",
                        FieldType.CHOICE,
                        "试用期评估",
                        "Probation outlook",
                        required=True,
                        choices=[
                            {"value": "on_track", "label": _t("进展顺利", "On track")},
                            {
                                "value": "needs_support",
                                "label": _t("需要更多支持", "Needs support"),
                            },
                            {"value": "at_risk", "label": _t("存在风险", "At risk")},
                        ],
                    ),
                ],
            ),
            _section(
                "learning_plan",
                "学习与成长计划",
                "Learning plan",
                Filler.BOTH,
                [
                    _field(
                        "goals",
                        FieldType.GOALS,
                        "学习目标",
                        "Learning goals",
                        _t(
                            "目标、行动步骤、时间节点、所需支持（如导师带教、培训）。",
                            "Goal, steps, dates, support needed (a mentor, training).",
                        ),
                        required=True,
                    )
                ],
            ),
            _section(
                "hr_onboarding",
                "HR 跟进：培训与转正",
                "HR follow-up: training and probation",
                Filler.HR,
                [
                    _field("training", FieldType.LONG_TEXT, "已安排的培训", "Training arranged"),
                    _field("probation_ends", FieldType.DATE, "试用期结束日期", "Probation ends"),
                ],
            ),
        ]
    }


def _improvement() -> dict[str, Any]:
    return {
        "sections": [
            kpi_review("绩效差距", "Performance gaps"),
            _section(
                "gaps",
                "问题与期望",
                "Gaps and expectations",
                Filler.MANAGER,
                [
                    _field(
                        "event", FieldType.SHORT_TEXT, "具体事件", "What happened", required=True
                    ),
                    _field("impact", FieldType.LONG_TEXT, "影响", "Impact"),
                    _field(
                        "expected",
                        FieldType.LONG_TEXT,
                        "期望的标准",
                        "What is expected",
                        required=True,
                    ),
                ],
                _t(
                    "对事不对人：用数据和具体事件说明差距，例如“客户满意度60分，团队均值85分”。",
                    "Facts, not the person: show the gap with data and events, such as "
                    "“customer satisfaction 60 against a team average of 85”.",
                ),
                repeatable=True,
            ),
            to_improve("这段时间", "this period"),
            _section(
                "reasons",
                "原因分析与所需支持",
                "Causes and support needed",
                Filler.EMPLOYEE,
                [
                    _field("causes", FieldType.LONG_TEXT, "我认为的原因", "Causes as I see them"),
                    _field("support", FieldType.LONG_TEXT, "需要的支持", "Support needed"),
                ],
                _t(
                    "说说你遇到的困难，我们一起想办法解决。",
                    "Tell us what makes it hard; we will look for a way together.",
                ),
            ),
            improvement_plan(Filler.BOTH),
            _section(
                "follow_up",
                "跟进安排",
                "Follow-up",
                Filler.MANAGER,
                [
                    _field(
                        "frequency",
                        FieldType.CHOICE,
                        "跟进频率",
                        "How often we check",
                        required=True,
                        choices=[
                            {"value": "weekly", "label": _t("每周", "Weekly")},
                            {"value": "biweekly", "label": _t("每两周", "Every two weeks")},
                            {"value": "monthly", "label": _t("每月", "Monthly")},
                        ],
                    ),
                    _field(
                        "review_date",
                        FieldType.DATE,
                        "改进评估日期",
                        "Review date",
                        required=True,
                    ),
                ],
            ),
            _section(
                "hr_view",
                "HR 意见",
                "HR's view",
                Filler.HR,
                [
                    _field(
                        "remarks",
                        FieldType.LONG_TEXT,
                        "HR 意见与跟进",
                        "HR's remarks and follow-up",
                    )
                ],
            ),
        ]
    }


def _career() -> dict[str, Any]:
    return {
        "sections": [
            _section(
                "aspirations",
                "职业目标",
                "Career goals",
                Filler.EMPLOYEE,
                [
                    _field(
                        "short_term",
                        FieldType.LONG_TEXT,
                        "1年内目标",
                        "Within a year",
                        required=True,
                    ),
                    _field("long_term", FieldType.LONG_TEXT, "3–5年目标", "In 3–5 years"),
                    _field(
                        "track",
                        FieldType.CHOICE,
                        "希望的发展通道",
                        "Preferred path",
                        choices=[
                            {"value": "management", "label": _t("管理通道", "Management")},
                            {"value": "professional", "label": _t("专业/技术通道", "Specialist")},
                            {"value": "either", "label": _t("都可以", "Either")},
                        ],
                    ),
                ],
            ),
            _section(
                "skills",
                "能力与培训需求",
                "Skills and training",
                Filler.EMPLOYEE,
                [
                    _field("strengths", FieldType.LONG_TEXT, "优势能力", "Strengths"),
                    _field("gaps", FieldType.LONG_TEXT, "能力短板", "Skill gaps"),
                    _field("training", FieldType.LONG_TEXT, "希望参加的培训", "Training wanted"),
                ],
            ),
            _section(
                "manager_advice",
                "上级建议",
                "Manager's advice",
                Filler.MANAGER,
                [
                    _field(
                        "readiness",
                        FieldType.CHOICE,
                        "发展准备度",
                        "Readiness",
                        required=True,
                        choices=[
                            {"value": "ready_now", "label": _t("已具备", "Ready now")},
                            {"value": "one_two_years", "label": _t("1–2年内", "In 1–2 years")},
                            {"value": "later", "label": _t("需更长时间", "Later")},
                        ],
                    ),
                    _field("advice", FieldType.LONG_TEXT, "发展建议", "Advice", required=True),
                    _field(
                        "opportunities",
                        FieldType.LONG_TEXT,
                        "可提供的机会",
                        "Opportunities offered",
                        _t(
                            "项目、轮岗、带教、培训名额等。",
                            "Projects, rotations, mentoring, training.",
                        ),
                    ),
                ],
            ),
            _section(
                "development_plan",
                "个人发展计划",
                "Development plan",
                Filler.BOTH,
                [
                    _field(
                        "goals",
                        FieldType.GOALS,
                        "发展目标",
                        "Development goals",
                        _t(
                            "目标、行动步骤、时间节点、所需支持。",
                            "Goal, steps, dates, support needed.",
                        ),
                        required=True,
                    )
                ],
            ),
        ]
    }


def _promotion() -> dict[str, Any]:
    return {
        "sections": [
            _section(
                "application",
                "申报信息",
                "Application",
                Filler.EMPLOYEE,
                [
                    _field(
                        "target",
                        FieldType.SHORT_TEXT,
                        "申报职称/岗位",
                        "Title or post applied for",
                        _t(
                            "例如：副主任医师、主管护师。",
                            "For example: associate chief physician.",
                        ),
                        required=True,
                    ),
                    _field(
                        "current", FieldType.SHORT_TEXT, "现任职称/岗位", "Current title or post"
                    ),
                    _field(
                        "years",
                        FieldType.NUMBER,
                        "任现职年限",
                        "Years in the current title",
                        min=0,
                        max=50,
                        unit="年",
                    ),
                ],
            ),
            _section(
                "achievements",
                "任职期间主要业绩",
                "Achievements in the current title",
                Filler.EMPLOYEE,
                [
                    _field(
                        "clinical",
                        FieldType.LONG_TEXT,
                        "临床/业务工作量",
                        "Clinical workload",
                        _t(
                            "门诊量、手术量、收治病人数等。",
                            "Outpatient visits, operations, admissions.",
                        ),
                        required=True,
                    ),
                    _field(
                        "quality",
                        FieldType.LONG_TEXT,
                        "医疗质量与安全",
                        "Quality and safety of care",
                        _t(
                            "病历书写质量、患者满意度、不良事件等。",
                            "Quality of medical records, patient satisfaction, adverse events.",
                        ),
                    ),
                    _field(
                        "research_teaching",
                        FieldType.LONG_TEXT,
                        "科研教学",
                        "Research and teaching",
                        _t(
                            "论文、课题、专利、带教与继续教育。",
                            "Papers, grants, patents, teaching and continuing education.",
                        ),
                    ),
                    _field("other", FieldType.LONG_TEXT, "其他贡献", "Other contributions"),
                ],
            ),
            kpi_review(),
            _section(
                "manager",
                "科室/上级评价",
                "Department's assessment",
                Filler.MANAGER,
                [
                    _field(
                        "assessment",
                        FieldType.LONG_TEXT,
                        "综合评价",
                        "Assessment",
                        required=True,
                    ),
                    _field("strengths", FieldType.LONG_TEXT, "优势与亮点", "Strengths"),
                    _field("development", FieldType.LONG_TEXT, "待提升点", "Areas to develop"),
                    _field(
                        "rating",
                        FieldType.RATING,
                        "综合评级",
                        "Overall rating",
                        min=1,
                        max=5,
                        anchors=PERFORMANCE_ANCHORS,
                        required=True,
                    ),
                    _field(
                        "recommendation",
                        FieldType.CHOICE,
                        "推荐意见",
                        "Recommendation",
                        required=True,
                        choices=[
                            {"value": "recommend", "label": _t("推荐", "Recommend")},
                            {"value": "defer", "label": _t("暂缓", "Not yet")},
                            {"value": "not_recommend", "label": _t("不推荐", "Do not recommend")},
                        ],
                    ),
                ],
            ),
            _section(
                "hr_eligibility",
                "HR 职称资格审核",
                "HR: eligibility check",
                Filler.HR,
                [
                    _field(
                        "eligibility",
                        FieldType.CHOICE,
                        "申报资格",
                        "Eligibility",
                        required=True,
                        choices=[
                            {"value": "eligible", "label": _t("符合申报条件", "Eligible")},
                            {"value": "incomplete", "label": _t("需补充材料", "Papers missing")},
                            {
                                "value": "not_eligible",
                                "label": _t("不符合申报条件", "Not eligible"),
                            },
                        ],
                    ),
                    _field(
                        "checks",
                        FieldType.LONG_TEXT,
                        "审核说明",
                        "What was checked",
                        _t(
                            "学历、任职年限、继续教育学分、执业资格等。",
                            "Education, years in the title, continuing-education credits, "
                            "licence to practise.",
                        ),
                    ),
                    _field("missing", FieldType.LONG_TEXT, "需补充的材料", "Papers to add"),
                ],
            ),
            _section(
                "plan",
                "下一步发展计划",
                "Next steps",
                Filler.EMPLOYEE,
                [
                    _field(
                        "goals",
                        FieldType.GOALS,
                        "发展目标",
                        "Goals",
                        _t(
                            "目标、行动步骤、时间节点、所需支持。",
                            "Goal, steps, dates, support needed.",
                        ),
                    )
                ],
            ),
        ]
    }


BUILTINS: tuple[BuiltinTemplate, ...] = (
    BuiltinTemplate(
        key=ANNUAL,
        name=_t("年度绩效面谈", "Annual review"),
        description=_t(
            "回顾全年：员工自评做得好的、需改进的和改进计划，上级评价，双方各自评分。",
            "The year in review: the employee's self-assessment and plan, the manager's "
            "assessment, an overall rating from each side.",
        ),
        topics=(),
        definition=_review("本年度", "the year"),
    ),
    BuiltinTemplate(
        key=QUARTERLY,
        name=_t("季度绩效面谈", "Quarterly review"),
        description=_t(
            "回顾本季度目标完成情况，商定下季度改进计划。",
            "The quarter's goals and results, and the plan for the next quarter.",
        ),
        topics=(Topic.QUARTERLY_REVIEW.value,),
        definition=_review("本季度", "the quarter"),
    ),
    BuiltinTemplate(
        key=MONTHLY,
        name=_t("月度沟通", "Monthly check-in"),
        description=_t(
            "简短的月度一对一：进展、困难、反馈和下月重点。",
            "A short monthly one-to-one: progress, obstacles, feedback, next month's focus.",
        ),
        topics=(Topic.OTHER.value, Topic.PROJECT_RECOGNITION.value),
        definition=_monthly(),
    ),
    BuiltinTemplate(
        key=NEW_HIRE,
        name=_t("新员工辅导面谈", "New-hire coaching"),
        description=_t(
            "试用期内的辅导：适应情况、导师意见、学习计划和转正安排。",
            "Coaching during probation: settling in, the mentor's view, a learning plan.",
        ),
        topics=(),
        definition=_new_hire(),
    ),
    BuiltinTemplate(
        key=IMPROVEMENT,
        name=_t("绩效改进面谈", "Improvement talk"),
        description=_t(
            "针对绩效未达标：用数据说明差距，员工反思原因，双方商定改进计划和跟进安排。",
            "When performance falls short: the gaps shown with data, the employee's view, an "
            "agreed plan and follow-up.",
        ),
        topics=(Topic.IMPROVEMENT.value,),
        definition=_improvement(),
    ),
    BuiltinTemplate(
        key=CAREER,
        name=_t("职业发展面谈", "Career development"),
        description=_t(
            "职业目标、能力与培训需求、上级建议和个人发展计划。",
            "Career goals, skills and training, the manager's advice, a development plan.",
        ),
        topics=(Topic.CAREER.value,),
        definition=_career(),
    ),
    BuiltinTemplate(
        key=PROMOTION,
        name=_t("晋升/职称评审面谈", "Promotion or professional title"),
        description=_t(
            "晋升或职称申报：主要业绩（医疗质量、科研教学）、科室评价和 HR 资格审核。",
            "Applying for a promotion or a professional title: achievements (quality of "
            "care, research and teaching), the department's assessment, HR's eligibility "
            "check.",
        ),
        topics=(Topic.PROMOTION.value,),
        definition=_promotion(),
    ),
)

BY_KEY = {builtin.key: builtin for builtin in BUILTINS}
