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
