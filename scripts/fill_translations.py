"""Fill the English catalogue (weifei/locale/en/LC_MESSAGES/django.po) from TRANSLATIONS.

Workflow: `django-admin makemessages -l en` (needs GNU gettext), add the new strings to
TRANSLATIONS below, run this script, then `django-admin compilemessages`. Both the .po and the
compiled .mo are committed, so a machine without gettext still shows English.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "weifei" / "locale" / "en" / "LC_MESSAGES" / "django.po"

TRANSLATIONS = {
    "找到 %(n)s 条": ("%(n)s code found", "%(n)s codes found"),
    "废物代码": "Waste code",
    "类别": "Category",
    "行业来源": "Industry source",
    "危险废物": "Hazardous waste",
    "危险特性": "Hazard",
    "没有匹配的废物代码。可尝试更短的关键词，或按类别浏览。": (
        "No matching code. Try a shorter keyword or browse by category."
    ),
    "上一页": "Previous",
    "下一页": "Next",
    "返回名录查询": "Back to the catalogue",
    "名录版本": "Catalogue version",
    "废物类别": "Waste category",
    "名录原文": "As printed",
    "名录页码": "Page in the catalogue",
    "豁免管理清单中的相关条目": "Exemption-list entries",
    "序号": "No.",
    "豁免环节": "Exempted stage",
    "豁免条件": "Condition",
    "豁免内容": "Exemption",
    "豁免管理清单中没有提及该代码或其类别的条目。": "The exemption list does not mention this code or its category.",
    "同类别（%(cat)s）的其他代码": "Other codes in %(cat)s",
    "危险废物名录查询": "Hazardous-waste catalogue",
    "%(d)s 起施行": "in force from %(d)s",
    "输入废物代码、类别（如 HW08）、行业或关键词（如 废矿物油、飞灰）": (
        "Code, category (e.g. HW08), industry or keyword (e.g. 废矿物油, 飞灰)"
    ),
    "搜索": "Search",
    "全部类别": "All categories",
    "版本": "Version",
    "查询": "Search",
    "查询中…": "Searching…",
    "简体中文": "简体中文",
    "English": "English",
    "首页": "Home",
    "工作台": "Workbench",
    "名录查询": "Catalogue",
    "危险废物全过程智能监管平台": "Hazardous-Waste Full-Lifecycle Supervision Platform",
    "吉林省危险废物全过程智能监管平台": "Jilin Hazardous-Waste Supervision Platform",
    "主导航": "Main navigation",
    "语言": "Language",
    "退出": "Log out",
    "登录": "Log in",
    "依据《吉林省强化危险废物监管和利用处置能力改革工作方案》（吉环固体字〔2021〕18号）建设": (
        "Built to the Jilin Province reform plan for hazardous-waste supervision (吉环固体字〔2021〕18号)"
    ),
    "监管驾驶舱": "Supervision dashboard",
    "辖区内登记单位": "Registered units in the jurisdiction",
    "施行名录中的废物代码": "Codes in the catalogue in force",
    "各市（州）登记单位数": "Registered units per prefecture",
    "吉林省市（州）分布": "Prefectures of Jilin",
    "明细": "Details",
    "区划代码": "Division code",
    "市（州）": "Prefecture",
    "单位数": "Units",
    "单位工作台": "Unit workbench",
    "统一社会信用代码": "Unified social credit code",
    "所在区域": "Region",
    "行业": "Industry",
    "角色": "Roles",
    "产废单位": "Generator",
    "承运人": "Carrier",
    "经营单位": "Licensed operator",
    "收集单位": "Collector",
    "产废情况": "Waste generation",
    "年度": "Year",
    "年产生量（吨）": "Annual quantity (t)",
    "运输车辆": "Vehicles",
    "车牌号": "Plate",
    "核定载质量（吨）": "Payload (t)",
    "道路运输证有效期至": "Transport certificate valid until",
    "经营许可证": "Licences",
    "编号": "Number",
    "核准类别": "Licensed categories",
    "有效期": "Validity",
    "无权访问": "Access denied",
    "未找到": "Not found",
    "请求有误": "Bad request",
    "返回首页": "Back to the home page",
    "产生、收集、贮存、运输、利用、处置——每一桶危险废物都可追溯。产废单位、运输单位、经营单位在这里申报与签收电子联单，"
    "生态环境部门在这里审核、预警与执法，公众在这里查看公开信息。": (
        "Generation, collection, storage, transport, utilization, disposal: every drum of hazardous waste "
        "can be traced. Generators, carriers and licensed operators declare and sign electronic manifests "
        "here; environment departments review, get alerts and enforce; the public sees what is published."
    ),
    "查询危险废物名录": "Search the catalogue",
    "登录工作台": "Log in to the workbench",
    "已登记单位": "Registered units",
    "用户名或密码不正确，请重新输入。": "Wrong user name or password. Please try again.",
    "用户名": "User name",
    "密码": "Password",
    "API 令牌": "API tokens",
    "企业软件用 API 令牌调用接口：请求头 Authorization: Bearer 令牌。令牌只在创建时显示一次，平台只保存其摘要；不用时请及时撤销。": "Enterprise software calls the API with a token in the header Authorization: Bearer <token>. A token is shown once, when it is created; the platform keeps only its digest. Revoke tokens you no longer use.",
    "令牌“%(name)s”已创建。请立即复制保存，离开本页后将无法再次查看：": "Token “%(name)s” created. Copy it now: it cannot be shown again after you leave this page:",
    "名称（用途）": "Name (purpose)",
    "允许写入（write）；不勾选则只读（read）": "Allow writes (write); unchecked means read only",
    "代表单位": "On behalf of",
    "个人令牌（本人的全部单位）": "Personal token (all my units)",
    "创建令牌": "Create token",
    "已有令牌": "Existing tokens",
    "名称": "Name",
    "令牌": "Token",
    "权限": "Scopes",
    "单位": "Unit",
    "所有人": "Owner",
    "创建": "Created",
    "过期": "Expired",
    "最近使用": "Last used",
    "已撤销": "Revoked",
    "撤销": "Revoke",
    "还没有令牌。": "No tokens yet.",
    "变更记录": "History",
    "时间": "Time",
    "操作人": "By",
    "事项": "Event",
    "变更内容": "Changes",
    "理由": "Reason",
    "暂无变更记录。": "No history yet.",
    "地址": "Address",
    "法定代表人": "Legal representative",
    "联系人": "Contact",
    "核验意见": "Verification note",
    "核验意见（不予通过时必填）": "Note (required when rejecting)",
    "核验通过": "Verify",
    "不予通过": "Reject",
    "生产经营场所": "Sites",
    "新增场所": "Add site",
    "场所": "Site",
    "区域": "Region",
    "状态": "Status",
    "管理类别": "Management class",
    "设施": "Facilities",
    "监管部门调整": "Set by the regulator",
    "按标准判定": "As the standard computes",
    "调整理由（必填）": "Reason (required)",
    "调整": "Set",
    "尚未登记场所。": "No sites registered yet.",
    "危险废物经营许可证": "Hazardous-waste operating licences",
    "核准范围": "Licensed scope",
    "规模（吨/年）": "Scale (t/year)",
    "共用": "shared",
    "有效": "Valid",
    "运输车辆与人员": "Vehicles and crews",
    "新增车辆": "Add vehicle",
    "道路运输经营许可证": "Road transport licence",
    "危险货物类别": "Dangerous-goods classes",
    "有效期至": "Valid until",
    "备案": "Registration",
    "尚未登记车辆。": "No vehicles registered yet.",
    "姓名": "Name",
    "岗位": "Post",
    "从业资格证号": "Qualification certificate",
    "合同": "Contracts",
    "类型": "Kind",
    "相对方": "Counterparty",
    "环评、保险与应急预案": "EIA, insurance and emergency plans",
    "环评批复": "EIA approval",
    "环境污染责任保险": "Pollution-liability insurance",
    "应急预案备案": "Emergency-plan filing",
    "单位登记": "Registry",
    "待核验": "Pending",
    "单位名称或统一社会信用代码": "Unit name or credit code",
    "全部区域": "All regions",
    "全部角色": "All roles",
    "全部管理类别": "All management classes",
    "核验状态": "Verification",
    "全部核验状态": "All verification states",
    "筛选": "Filter",
    "共 %(n)s 个单位": ("%(n)s unit", "%(n)s units"),
    "产废": "generator",
    "运输": "carrier",
    "收集": "collector",
    "经营": "operator",
    "没有符合条件的单位。": "No unit matches.",
    "场所分布": "Sites on the map",
    "颜色：红＝重点监管，橙＝简化管理，绿＝登记管理": "Colours: red = key, orange = simplified, green = registered",
    "单位注册": "Register a unit",
    "注册后，所在地生态环境部门核验通过前，单位不能以收集、运输或经营单位身份办理业务。": "Until the local environment department verifies it, a registered unit cannot act as a collector, carrier or operator.",
    "所在区域（县级）": "Region (county level)",
    "单位角色": "Unit roles",
    "管理员账户": "Administrator account",
    "提交注册": "Register",
    "新增生产经营场所": "Add a site",
    "场所角色": "Site roles",
    "保存": "Save",
    "新增运输车辆": "Add a vehicle",
    "核验队列": "Verification queue",
    "待核验单位": "Units waiting for verification",
    "提交时间": "Submitted",
    "处理": "Action",
    "意见": "Note",
    "通过": "Approve",
    "退回": "Return",
    "没有待核验的单位。": "No unit is waiting.",
    "待备案车辆": "Vehicles waiting for registration",
    "不予备案": "Refuse",
    "没有待备案的车辆。": "No vehicle is waiting.",
    "动态口令": "One-time code",
    "返回登录": "Back to login",
    "监管部门账户须输入认证器（动态口令应用）上显示的 6 位数字。": "Regulator accounts must enter the 6-digit code shown by their authenticator app.",
    "6 位动态口令": "6-digit code",
    "验证并登录": "Verify and log in",
    "重新输入用户名和密码": "Enter user name and password again",
    "绑定动态口令": "Set up one-time codes",
    "监管部门账户登录须使用动态口令。请在认证器应用（如 Google Authenticator、Microsoft Authenticator、FreeOTP 或其他支持 TOTP 的应用）中添加以下密钥，然后输入应用显示的 6 位数字完成绑定。": "Regulator accounts log in with one-time codes. Add the key below to an authenticator app (Google Authenticator, Microsoft Authenticator, FreeOTP or any TOTP app), then enter the 6-digit code it shows.",
    "密钥（手动输入）": "Key (to type in)",
    "或导入以下地址（otpauth://）": "or import this address (otpauth://)",
    "密钥只在绑定时显示。请勿截图外传；绑定后如更换手机，请联系系统管理员重置。": "The key is shown only now. Do not share screenshots of it; if you change phones, ask an administrator to reset it.",
    "绑定并登录": "Set up and log in",
    "登录已超时（须在 5 分钟内输入动态口令），请重新输入用户名和密码。": "The login timed out (the code must be entered within 5 minutes). Enter your user name and password again.",
    "接受邀请": "Accept the invitation",
    "加入单位": "Join the unit",
    "%(name)s 邀请你以“%(role)s”身份加入。": "%(name)s invites you to join as “%(role)s”.",
    "邀请对象：%(hint)s。": "Invited: %(hint)s.",
    "链接有效至 %(until)s，只能使用一次。": "The link is valid until %(until)s and can be used once.",
    "当前登录账户：%(who)s": "Logged in as %(who)s",
    "加入%(name)s": "Join %(name)s",
    "已有账户？": "Already have an account?",
    "请先登录": "Log in first",
    "，登录后回到本页加入。没有账户请在下面创建：": ", then come back to this page to join. Without an account, create one below:",
    "创建账户并加入": "Create the account and join",
    "成员管理": "Members",
    "成员": "Members",
    "管理员管理成员和邀请；成员可办理本单位业务；驾驶员和只读账户只能查看。单位至少保留一名管理员。移出成员时，其代表本单位的 API 令牌一并撤销。": "Admins manage members and invitations; members do the unit's business; drivers and readers only read. A unit keeps at least one admin. Removing a member also revokes its API tokens for the unit.",
    "加入时间": "Joined",
    "（本人）": "(you)",
    "调整角色": "Change role",
    "移出": "Remove",
    "邀请成员": "Invite a member",
    "邀请已创建。请立即复制链接发给对方，离开本页后将无法再次查看：": "Invitation created. Copy the link now and send it; it cannot be shown again after you leave this page:",
    "邀请对象（邮箱或用户名，仅作提示）": "Invitee (e-mail or user name, a hint only)",
    "生成邀请链接": "Create the invitation link",
    "邀请": "Invitations",
    "邀请对象": "Invitee",
    "邀请人": "Invited by",
    "接受人": "Accepted by",
}

ENTRY = re.compile(r'(msgid ((?:".*"\n)+))(msgid_plural ((?:".*"\n)+))?((?:msgstr(?:\[\d\])? (?:".*"\n)+)+)')


def _unquote(block: str) -> str:
    return "".join(re.findall(r'"(.*)"', block)).replace('\\"', '"')


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def main() -> int:
    po = PO.read_text(encoding="utf-8")
    missing = []

    def fill(match: re.Match[str]) -> str:
        msgid = _unquote(match.group(2))
        if not msgid:
            return match.group(0)
        value = TRANSLATIONS.get(msgid)
        if value is None:
            missing.append(msgid)
            return match.group(0)
        head = match.group(1) + (match.group(3) or "")
        if match.group(3):
            singular, plural = value if isinstance(value, tuple) and len(value) == 2 else (value, value)
            return head + f"msgstr[0] {_quote(str(singular))}\nmsgstr[1] {_quote(str(plural))}\n"
        text = value if isinstance(value, str) else "".join(value)
        return head + f"msgstr {_quote(text)}\n"

    PO.write_text(ENTRY.sub(fill, po), encoding="utf-8")
    for m in missing:
        print(f"untranslated: {m}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
