"""China's 34 provincial-level divisions, in the national standard (GB/T 2260) order."""

PROVINCES = (
    "北京市", "天津市", "河北省", "山西省", "内蒙古自治区",
    "辽宁省", "吉林省", "黑龙江省",
    "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省",
    "河南省", "湖北省", "湖南省", "广东省", "广西壮族自治区", "海南省",
    "重庆市", "四川省", "贵州省", "云南省", "西藏自治区",
    "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区",
    "台湾省", "香港特别行政区", "澳门特别行政区",
)

# Toneless pinyin of each name, initials first, for typing a province at the counter: "gd" or
# "guang" picks 广东省 (static/js/typeahead.js). Where the initials are shared (hb, hn, sx), a few
# more letters of the full pinyin decide: "hub" 湖北, "hun" 湖南, "shaa" 陕西.
PROVINCE_PINYIN = {
    "北京市": "bj beijing", "天津市": "tj tianjin", "河北省": "hb hebei", "山西省": "sx shanxi",
    "内蒙古自治区": "nmg neimenggu", "辽宁省": "ln liaoning", "吉林省": "jl jilin",
    "黑龙江省": "hlj heilongjiang", "上海市": "sh shanghai", "江苏省": "js jiangsu",
    "浙江省": "zj zhejiang", "安徽省": "ah anhui", "福建省": "fj fujian", "江西省": "jx jiangxi",
    "山东省": "sd shandong", "河南省": "hn henan", "湖北省": "hb hubei", "湖南省": "hn hunan",
    "广东省": "gd guangdong", "广西壮族自治区": "gx guangxi", "海南省": "hn hainan",
    "重庆市": "cq chongqing", "四川省": "sc sichuan", "贵州省": "gz guizhou",
    "云南省": "yn yunnan", "西藏自治区": "xz xizang", "陕西省": "sx shaanxi shanxi",
    "甘肃省": "gs gansu", "青海省": "qh qinghai", "宁夏回族自治区": "nx ningxia",
    "新疆维吾尔自治区": "xj xinjiang", "台湾省": "tw taiwan",
    "香港特别行政区": "xg xianggang hk hongkong", "澳门特别行政区": "am aomen macau",
}


def is_other_region(branch_province: str, branch_city: str,
                    payee_province: str | None, payee_city: str | None) -> bool:
    """异地: a different province, or the same province but a different named city."""
    if not payee_province:
        return False
    if payee_province != branch_province:
        return True
    return bool(payee_city and branch_city and payee_city.strip() != branch_city.strip())
