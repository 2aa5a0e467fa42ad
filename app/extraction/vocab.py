"""What this genre calls its units: department names, their short forms, and name endings.

These are facts about Chinese local government, shared by every province, not by one
document: the same 生态环境局 exists at city, county and district level under a prefix.
"""

from __future__ import annotations

# Short form -> full form of a department's core name (the part after 省/市/县/区).
# Variants a document mixes for the same body map to one canonical form.
ABBREVIATIONS: dict[str, str] = {
    "发改委": "发展和改革委员会",
    "发展改革委": "发展和改革委员会",
    "发展和改革委": "发展和改革委员会",
    "发改局": "发展和改革局",
    "工信局": "工业和信息化局",
    "工信厅": "工业和信息化厅",
    "科工局": "科技和工业信息化局",
    "科技局": "科学技术局",
    "科技厅": "科学技术厅",
    "教育局": "教育局",
    "教体局": "教育体育局",
    "教科体局": "教育科技体育局",
    "公安局": "公安局",
    "民政局": "民政局",
    "司法局": "司法局",
    "财政局": "财政局",
    "人社局": "人力资源和社会保障局",
    "人社厅": "人力资源和社会保障厅",
    "自然资源局": "自然资源局",
    "自然资源分局": "自然资源局",
    "生态环境局": "生态环境局",
    "生态环境分局": "生态环境局",
    "住建局": "住房和城乡建设局",
    "住建厅": "住房和城乡建设厅",
    "城管局": "城市管理局",
    "交通局": "交通运输局",
    "交通运输局": "交通运输局",
    "水利局": "水利局",
    "农业农村局": "农业农村局",
    "农业局": "农业农村局",
    "商务局": "商务局",
    "文广新旅局": "文化广电新闻出版旅游局",
    "文广旅局": "文化广电旅游局",
    "文旅局": "文化和旅游局",
    "文旅厅": "文化和旅游厅",
    "卫健委": "卫生健康委员会",
    "卫健局": "卫生健康局",
    "卫生健康局": "卫生健康局",
    "卫生健康委": "卫生健康委员会",
    "退役军人局": "退役军人事务局",
    "应急局": "应急管理局",
    "应急厅": "应急管理厅",
    "应急管理局": "应急管理局",
    "审计局": "审计局",
    "国资委": "国有资产监督管理委员会",
    "市场监管局": "市场监督管理局",
    "市场监督管理局": "市场监督管理局",
    "体育局": "体育局",
    "统计局": "统计局",
    "医保局": "医疗保障局",
    "林业局": "林业局",
    "林业分局": "林业局",
    "乡村振兴局": "乡村振兴局",
    "行政审批局": "行政审批局",
    "机关事务管理局": "机关事务管理局",
    "机关事务管理中心": "机关事务管理局",
    "机关事务中心": "机关事务管理局",
    "科创中心": "科技创新中心",
    "水土保持中心": "水土保持中心",
    "税务局": "税务局",
    "气象局": "气象局",
    "金融办": "金融工作办公室",
    "政府金融办": "金融工作办公室",
    "金融服务中心": "金融服务中心",
    "供电公司": "供电公司",
    "邮政管理局": "邮政管理局",
    "能源局": "能源局",
    "粮食局": "粮食和物资储备局",
    "信访局": "信访局",
    "数据局": "数据局",
    "大数据中心": "大数据中心",
    "湿地管理局": "湿地管理局",
    "经发局": "经济发展局",
    "经济发展局": "经济发展局",
    "铁办": "铁路建设办公室",
    "政府办": "人民政府办公室",
    "政府办公室": "人民政府办公室",
    "委宣传部": "委宣传部",
    "委组织部": "委组织部",
    "委统战部": "委统战部",
    "委政法委": "委政法委员会",
    "委网信办": "委网络安全和信息化委员会办公室",
    "纪委监委": "纪委监委",
    "人民法院": "人民法院",
    "法院": "人民法院",
    "中级法院": "中级人民法院",
    "人民检察院": "人民检察院",
    "检察院": "人民检察院",
    "妇联": "妇女联合会",
    "总工会": "总工会",
    "供销社": "供销合作社",
    "红十字会": "红十字会",
    "残联": "残疾人联合会",
    "科协": "科学技术协会",
    "工商联": "工商业联合会",
    "文联": "文学艺术界联合会",
    "融媒体中心": "融媒体中心",
    "自来水公司": "自来水公司",
    "城投集团": "城市建设投资集团",
}

# Core names a document may print without their jurisdiction prefix (兴国's "交通运输局").
DEPARTMENT_CORES: frozenset[str] = frozenset(ABBREVIATIONS) | frozenset(ABBREVIATIONS.values())

# How a unit's name ends. Longest first so that 委员会 wins over 会.
UNIT_ENDINGS: tuple[str, ...] = tuple(sorted({
    "局", "厅", "委", "委员会", "办", "办公室", "办公厅", "部", "院", "中心", "政府", "人民政府",
    "公司", "集团", "海关", "分行", "支行", "中支", "银行", "大队", "支队", "管委会", "联合会",
    "妇联", "总工会", "工会", "团市委", "团县委", "团区委", "团省委", "社", "站", "所", "处",
    "党委", "党组", "法院", "检察院", "监委", "纪委监委", "科协", "残联", "工商联", "文联",
    "协会", "商会", "学会", "基金会", "红十字会", "指挥部", "领导小组", "小组", "工作组",
    "单位", "部门", "乡镇", "街道", "镇", "乡", "管理处", "分局", "支局", "监管局", "证监局",
    "铁路局", "电网", "机场", "学校", "大学", "学院", "医院", "研究院", "研究所", "馆",
}, key=len, reverse=True))

# A unit's name may open with its jurisdiction's one-character prefix or a full place name.
LEVEL_PREFIXES: dict[str, str] = {"省": "province", "市": "city", "县": "county", "区": "district"}

# Placeholders that stand for many units (groups, not units).
GROUP_MARKERS: tuple[str, ...] = (
    "有关单位", "有关部门", "相关单位", "相关部门", "成员单位", "各相关", "各有关",
    "县(市、区)", "县(市,区)", "各乡镇", "各乡(镇)", "各街道", "各镇", "各县", "各区",
    "各设区市", "各市", "各地", "各级",
)

# Field labels that introduce units, by role; longest first when matching.
ROLE_LABELS: dict[str, str] = {
    "牵头责任单位": "lead", "牵头单位": "lead", "牵头部门": "lead", "主办单位": "lead",
    "主责单位": "lead", "责任牵头单位": "lead",
    "责任单位": "responsible", "责任部门": "responsible", "实施单位": "responsible",
    "主体责任单位": "responsible", "承办单位": "responsible",
    "配合单位": "cooperating", "配合部门": "cooperating", "协办单位": "cooperating",
    "协同责任单位": "cooperating", "协同单位": "cooperating", "协作单位": "cooperating",
    "参与单位": "cooperating", "参与部门": "cooperating", "协助单位": "cooperating",
}

# Field labels whose values are people, never units.
PERSON_LABELS: tuple[str, ...] = (
    "牵头负责领导", "牵头市领导", "牵头县领导", "牵头区领导", "牵头领导", "责任领导", "分管领导",
    "联系领导", "包保领导", "督办领导", "责任人", "联系人", "负责人",
)

# Field labels whose values are deadlines.
DEADLINE_LABELS: tuple[str, ...] = (
    "完成时限", "完成时间", "时间节点", "时限要求", "办结时限", "建设时限", "实施时限", "时限",
    "建设期限", "实施期限", "完成期限",
)

# Notes that trail a unit list and carry no unit.
UNIT_NOTES: tuple[str, ...] = (
    "按职责分工负责", "按照职责分工负责", "按职责分别负责", "按职能分工负责", "分别负责",
    "按职责负责", "负责落实", "负责", "下同", "等", "牵头", "配合", "协助", "参与",
)
