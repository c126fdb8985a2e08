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


def is_other_region(branch_province: str, branch_city: str,
                    payee_province: str | None, payee_city: str | None) -> bool:
    """异地: a different province, or the same province but a different named city."""
    if not payee_province:
        return False
    if payee_province != branch_province:
        return True
    return bool(payee_city and branch_city and payee_city.strip() != branch_city.strip())
