"""Gates that drop a rule hit whose words are present but whose meaning is not an admission.

Each gate looks at the sentence holding the hit (``start``/``end`` are offsets in it):
- negation: 不会/没有/不是/绝不/我们不… shortly before the trigger ("我们不会爆你通讯录");
- question: a question whose target is not "you" (a borrower asking "你们是不是要爆我通讯录？");
- quotation: reported speech of the other side ("他们说要去我单位");
- perspective: the speaker is the victim ("爆了我的通讯录"), i.e. the borrower talking;
- retelling: news or another's case retold ("新闻说有个催收公司因为爆通讯录被判了"); pipeline.detect applies it to both tiers;
- speaker: handled by the engine from segment roles (conduct needs the collector's speech).
"""

from __future__ import annotations

import re

GATE_NAMES = ("negation", "question", "quotation", "perspective", "speaker")

CLAUSE_BREAK = re.compile(r"[，,、：:；;]")
_NEG_CUE = re.compile(
    # "不会让你去找同学借" / "不需要让您…": "让" after these is not the pseudo-negation "别让我们…"
    r"(?:不会|绝不会|不需要|无需|不用)让(?:你|您)|(?:不需要|无需|切勿|请勿|怎么可能|从来没有?)"
    r"|(?:不会|不是|没有人|没人|没有|绝不|绝对不|决不|并不|并没有|从不|从来不|从没|从未|未曾|不可能|不能|不可以|"
    r"不得|不准|禁止|严禁|不允许|不要|不用|不必|无权|不存在|不再|不打算|不建议|不提倡|不鼓励|谁也不|我们不|我们没|别)"
    # pseudo-negations that still threaten: 别怪我们 / 不要逼我们 / 不要以为 / 不排除 / 不然
    r"(?!怪|逼|让|然|得不|管|排除|仅|但|光|止|只|以为|觉得|想着|信|见得|客气|是说|好说)"
)
# "别给脸不要脸" / "别逼我们": the negation belongs to the threat itself
_PSEUDO_TRIGGER = re.compile(r"给脸|逼|怪|敬酒不吃")
_BARE_NEG_BEFORE = re.compile(r"(?:不|没|别|勿|未)[会要再去来用敢]{0,2}$")
# "你不会去借吗？" / "你老婆不是还能出去卖吗？": a rhetorical question, not a negation
_RHETORICAL = re.compile(r"^(?:不会|不能|不可以|不是|没有)$")
_RHETORICAL_END = re.compile(r"[吗么嘛][？?！!。]?$")
# "是不是/会不会/有没有…" ask a question; their 不/没 negates nothing
_A_NOT_A = re.compile(r"(是|会|能|要|可|敢|想|去|有|信)[不没]\1")
# words that end a negation's scope: a consequence ("…就"), or a sentence-final particle, which
# Whisper's unpunctuated text leaves as the only clause boundary ("不是有退休金吗让他们…")
_CONSEQUENCE = re.compile(r"就|便|否则|不然|的话|那么|那就|马上|立刻|直接|到时|吗|吧|呢|啊|呀")
_NEG_AFTER = re.compile(
    r"^[^，。！？,!?]{0,6}(?:是不可能的|不可能|是不会的|我们(?:一个|谁|任何人)?(?:绝对|是|从来|也|都)?(?:不|绝不)(?:会|做|干)|是违法|违法的)"
)
# "您说的那种发裸照的事，我们绝不会做": the deed named, then denied in the next clause
_NEG_AFTER_CLAUSE = re.compile(r"^[^，。！？,!?]{0,4}(?:的事|这种事|那种事|这种话|那种话)?[，,]?我们(?:绝对|是|从来|也|都)?(?:不|绝不|没)(?:会|做|干|说)")
# "你们要爆我通讯录" / "你们催收上门": the other side is the agent, so it is the borrower talking
_OTHER_SIDE_AGENT = re.compile(
    r"你们(?:这些人|这帮人|催收的?|的人)?(?:要|会|敢|再|还|就|又|都|是不是要?|凭什么|竟然|居然|怎么能|怎么可以|如果|要是|天天|一直|总是|已经)*$"
)

_QUESTION_MARK = re.compile(r"[？?]")
_QUESTION_WORD = re.compile(
    r"(?<!信)吗|(?<!相)(?:是不是|是否|会不会|要不要|能不能|有没有|敢不敢|凭什么|为什么|为啥|干嘛|难道|怎么能|怎么可以|什么意思|哪个|哪家)"
)
_YOU_SINGULAR = re.compile(r"(?:你|您)(?!们)")
# "我" as the one asking ("我怎么知道"), not the collector announcing a deed ("我找人弄你")
_I_SINGULAR = re.compile(r"我(?!们|司|方|找|叫|让|派|带|弄|打|收拾|去|会|就|要|明天|马上|现在|今天|跟你说|告诉你|把你|将你)")
_THREAT_QUESTION = re.compile(r"信不信|你试试|试试看")

_REPORTED = re.compile(
    r"(?<![跟和给对同向])(?:你们|你|他们|他|她|催收员?|催收的|对方|那边|那个人)"
    r"(?:刚才|刚刚|之前|以前|昨天|前天|上次|一直|还|都|又|也|就|已经|总是|天天)?"
    r"(?:说|讲|扬言|威胁|声称|放话|恐吓|吓唬)(?:过|了)?(?:说|要|会)?"
)
_QUOTE_OPEN, _QUOTE_CLOSE = "“\"「『", "”\"」』"

_TARGETS = (
    r"通讯录|通信录|联系人|家人|家里人?|家属|家|父母|爸妈|爸爸|妈妈|老婆|老公|孩子|儿子|女儿|亲戚|亲友|照片|单位|公司|"
    r"领导|老板|朋友圈|村|小区|征信|隐私|信息|全家|一家|名下|银行卡|子女|户籍|老家|学校|同事|朋友"
)
_CONDUCT_VERB_CHARS = "爆打发找去到上来曝贴挂联通告骂抓冻催堵闹"
_FIRST_VICTIM = re.compile(
    r"(?:爆|打|骂|逼|威胁|恐吓|骚扰|联系|曝光|告诉|通知|找|到|去|上|来|抓|告|起诉|冻结|拘留|吓唬|侮辱|说|叫|喊|发|P|p)了?我(?!们|司|方)"
    # the other side told "me" to do it: "你让我去套现", "你们要把我做成通缉令"
    r"|(?:你|您)们?(?:刚才|之前|上次)?(?:的意思是)?(?:让|叫|要|要把|把)我(?!们)"
    r"|我(?!们)的?(?:" + _TARGETS.replace("|同事|朋友", "") + ")"
)
_SECOND_VICTIM = re.compile(
    r"(?:爆|打|骂|找|联系|通知|告诉|曝光|到|去|上|来|抓|告|起诉|冻结|拘留|给|让|把|叫|帮|判|收拾|弄|搞|整|揍|砍|杀|废|堵|等|发|送|P|p)"
    r"了?(?:你|您)(?!们)|(?:你|您)(?!们)的?(?:" + _TARGETS + r")|你们(?:全家|家|一家|公司|单位|村|小区)"
)


# a third party's deed retold (news, a court case, hearsay): not the speaker's own conduct
_RETELLING = re.compile(
    r"新闻|报道|据说|听说|媒体|电视上|网上看到|网上说|有个催收|有一家催收|有家催收|那家催收|催收公司(?:因为|被)"
    r"|被判|判了|判刑|判决书|案例|立案侦查|被警方|被公安"
    # a source retold: a video, post, documentary, a lawyer's explainer, a TV drama or film
    r"|(?:看|刷)(?:了|到)(?:个|一个|一条|一篇)?(?:视频|帖子|新闻)|视频里|帖子里|有人发帖|纪录片|普法|(?:知乎|微博)上(?:看到|说|有人)"
    r"|(?:律师|专家)(?:在[^，。]{0,6})?(?:说|讲)|案子里|电视剧|剧里|警匪片|小说里|听(?!得|到|清|好|着)[^，。我你]{1,8}说"
)
# a judgment or indictment quoted (判决认定… / 经审理查明 / 被告人… / 公诉机关指控): retold when no "you" is in it
_JUDGMENT = re.compile(r"(?:判决|法院|本院|法庭)(?:认定|查明)|经审理查明|被告人|公诉机关|(?:检察院|起诉书)指控")
_YOU = re.compile(r"[你您]")
# "催收(员/的/公司)" named as a third party: the speaker is not the collector talking about "us"
_THIRD_PARTY_COLLECTOR = re.compile(r"(?<!我们)(?<!我们的)(?:催收|吹收|催手)(?:员|的人?|公司)?(?!费|部|组|团队|专员)")
# a third person harmed (他/她/借款人/我朋友…), not "you"
_THIRD_VICTIM = re.compile(
    r"(?:借款人|他|她|他们|我(?:同事|邻居|朋友|表姐|表哥|姐|哥|室友|同学)|[姐哥]说她|朋友)"
    r"(?:的[^，。]{0,4})?(?:被|收到|借了)|被(?:催收|吹收|催手)|(?:让|把|给|逼)(?:他|她|借款人)"
)
# a lawful notice: the conduct named as unlawful, or the listener told what to do if someone does it
# ("如果有人给您的亲友发您的欠款信息，那是违规行为，您可以报警")
_HYPOTHETICAL_OTHER = re.compile(
    r"(?:如果|假如|要是|万一|若)(?:有人|有催收|您遇到|你遇到|您收到|你收到|有自称|有人用|遇到)"
)
_UNLAWFUL_NAMED = re.compile(
    r"(?:那|这)(?:就|都|也)?(?:是|属于)[^，。]{0,4}(?:违法|违规)|(?:就是|都是|属于)违规催收|是违法催收|(?:可以|请|要|立即|马上)(?:先|立即)?报警"
    r"|拨打110|去派出所报案|必要时报警|可以投诉|一定是假冒|那不是我们的要求|请您拒绝|不算违法|就不对了"
    r"|构成[^，。]{0,10}罪|侵犯[^，。]{0,6}(?:权|信息)|要警惕|谨防"
)


def retelling(sentence: str) -> bool:
    """The sentence retells news or someone else's case ("新闻说有个催收公司因为爆通讯录被判了",
    "我同事说催收打电话让他去别的平台借钱") or is a lawful notice ("如果有人要P您照片，那是违法的，
    您可以报警"), and no deed is aimed at "you" in it — unless the source is explicit (a video, a lawyer,
    news) and a third-party collector is named, where "你" is the generic one ("律师说催收让你找亲戚借钱")."""
    if _HYPOTHETICAL_OTHER.search(sentence) and _UNLAWFUL_NAMED.search(sentence):
        return True
    if _JUDGMENT.search(sentence) and not _YOU.search(sentence):
        return True
    cue = _RETELLING.search(sentence)
    third = _THIRD_VICTIM.search(sentence)
    if not (cue or third):
        return False
    if not _SECOND_VICTIM.search(sentence):
        return bool(cue) or bool(third and _THIRD_PARTY_COLLECTOR.search(sentence))
    return bool(cue and (_UNLAWFUL_NAMED.search(sentence)
                         or (_THIRD_PARTY_COLLECTOR.search(sentence) and (third or _SOURCE_SAID.search(sentence)))))


# an explicit source that "said" it: 律师说 / 视频里讲 / 新闻说
_SOURCE_SAID = re.compile(r"(?:新闻|报道|视频|帖子|纪录片|律师|普法)[^，。你]{0,6}(?:说|讲|里|提到|称|指出|显示)")


def clause_bounds(sentence: str, start: int, end: int) -> tuple[int, int]:
    """Start/end of the clause (between commas) that holds ``[start, end)``."""
    left = 0
    for m in CLAUSE_BREAK.finditer(sentence, 0, start):
        left = m.end()
    m = CLAUSE_BREAK.search(sentence, end)
    return left, (m.start() if m else len(sentence))


def negated(sentence: str, start: int, end: int, window: int = 8) -> bool:
    """A negation cue shortly before the trigger in its clause (or "是不可能的" right after)."""
    clause_start, clause_end = clause_bounds(sentence, start, end)
    prefix = _A_NOT_A.sub(lambda m: "#" * len(m.group()), sentence[max(clause_start, start - window) : start])
    rhetorical = bool(_RHETORICAL_END.search(sentence[clause_start:clause_end].rstrip()) or _RHETORICAL_END.search(sentence))
    if _PSEUDO_TRIGGER.match(sentence, start):
        return False
    bare = _BARE_NEG_BEFORE.search(prefix)
    if bare and not (rhetorical and _RHETORICAL.match(bare.group()[:2])):
        return True
    for cue in reversed(list(_NEG_CUE.finditer(prefix))):
        if rhetorical and _RHETORICAL.match(cue.group()):
            continue
        if not _CONSEQUENCE.search(prefix[cue.end() :]):
            return True
    return bool(_NEG_AFTER.search(sentence[end:clause_end]) or _NEG_AFTER_CLAUSE.search(sentence[end:]))


def is_question(sentence: str, start: int, end: int) -> bool:
    clause_start, clause_end = clause_bounds(sentence, start, end)
    if _QUESTION_WORD.search(sentence[clause_start:clause_end]):
        return True
    tail = sentence[clause_end:]
    return bool(_QUESTION_MARK.search(sentence[clause_start:clause_end])) or (
        not CLAUSE_BREAK.search(tail) and bool(_QUESTION_MARK.search(tail))
    )


def borrower_question(sentence: str, start: int, end: int, utterance: str | None = None) -> bool:
    """A question not addressed at "you" by the collector: the other party asking or quoting.

    ``utterance`` (the speaker's whole turn) is searched for "我": "你是骗子吗？我怎么知道…".
    """
    if not is_question(sentence, start, end) or _THREAT_QUESTION.search(sentence):
        return False
    return not (_YOU_SINGULAR.search(sentence) and not _I_SINGULAR.search(utterance or sentence))


def reported_speech(sentence: str, start: int, end: int) -> bool:
    """The trigger is what someone else said: "他们说要…", "你们扬言…", or inside quotation marks."""
    clause_start, _ = clause_bounds(sentence, start, end)
    for m in _REPORTED.finditer(sentence, 0, start):
        if m.start() >= clause_start:
            return True
        # "他说，要爆我通讯录": the verb ends the clause right before the trigger's clause
        if not CLAUSE_BREAK.search(sentence, m.end(), clause_start - 1) and clause_start - m.end() <= 1:
            return True
    opened = max(sentence.rfind(q, 0, start) for q in _QUOTE_OPEN)
    if opened >= 0:
        closed = min((i for i in (sentence.find(q, end) for q in _QUOTE_CLOSE) if i >= 0), default=-1)
        lead_in = sentence[max(0, opened - 4) : opened]
        if closed >= 0 and ("说" in lead_in or "称" in lead_in or "讲" in lead_in):
            return True
    return False


def borrower_perspective(sentence: str, start: int, end: int) -> bool:
    """The speaker is the one harmed ("打到我单位", "我的通讯录") and "you" is not, or "你们" do
    the deed ("你们爆通讯录我就投诉"): the borrower talking, not collector speech."""
    clause_start, _ = clause_bounds(sentence, start, end)
    agent = _OTHER_SIDE_AGENT.search(sentence, clause_start, start)
    # bare "你们" right before a noun is a possessive ("你们全公司"), not the doer
    if agent and (agent.group() != "你们" or sentence[start : start + 1] in _CONDUCT_VERB_CHARS):
        return True
    return bool(_FIRST_VICTIM.search(sentence)) and not _SECOND_VICTIM.search(sentence)
