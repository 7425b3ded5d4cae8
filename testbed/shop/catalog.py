"""The shop's fixed world: product catalogue, categories, hero products, co-view affinity, channels and geography.

Everything here is static data (no randomness): the generator samples from it. The shop is a Korean pet-supplies
store (멍냥마켓-like) with a weekly fresh-food subscription plan (``신선식품 정기배송``).
"""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES: dict[int, str] = {
    24: "사료",
    25: "간식",
    26: "배변패드",
    27: "장난감",
    28: "위생용품",
    29: "신선식품 정기배송",
    30: "고양이 모래",
    31: "영양제",
    32: "산책·외출",
    33: "급식·급수기",
}


@dataclass(frozen=True)
class Product:
    """One catalogue entry; ``weight`` is its relative popularity among regular (non-subscription) purchases."""

    product_no: int
    name: str
    category_no: int
    price: int
    weight: float
    launch_days_before_end: int = 1200  # created_date = end_date - this many days
    discontinued_days_before_end: int | None = None
    price_change: tuple[int, int] | None = None  # (days before end, previous price)

    @property
    def category_name(self) -> str:
        return CATEGORIES[self.category_no]

    @property
    def product_code(self) -> str:
        return f"P{self.product_no:07X}"


# fmt: off
PRODUCTS: tuple[Product, ...] = (
    # hero products: together about a third of all items sold
    Product(11, "[멍냥] 프리미엄 초흡수 배변패드 100매", 26, 23900, 30.0),
    Product(12, "[멍냥] 그레인프리 연어 전연령 사료 2kg", 24, 32000, 24.0, price_change=(40, 29900)),
    # 사료
    Product(13, "[멍냥] 그레인프리 연어 전연령 사료 6kg", 24, 79000, 5.0),
    Product(14, "오리지널 치킨 퍼피 사료 1.5kg", 24, 21000, 4.0),
    Product(15, "시니어 관절케어 사료 3kg", 24, 45000, 3.0),
    Product(16, "인도어 고양이 사료 2kg", 24, 28000, 4.5),
    Product(17, "키튼 전용 사료 1kg", 24, 16500, 2.0),
    Product(18, "저알러지 양고기 사료 2kg", 24, 36000, 1.5),
    Product(19, "다이어트 체중관리 사료 2kg", 24, 33000, 1.2),
    Product(20, "고양이 습식 파우치 12개입", 24, 18900, 3.5),
    # 간식
    Product(21, "연어 트릿 동결건조 간식 100g", 25, 12900, 6.0),
    Product(22, "수제 닭가슴살 져키 200g", 25, 9900, 4.0),
    Product(23, "츄르 참치맛 20개입", 25, 11900, 5.0),
    Product(24, "덴탈껌 치석케어 30개입", 25, 15900, 3.0),
    Product(25, "소고기 큐브 간식 150g", 25, 10500, 1.5),
    Product(26, "고구마 말랭이 300g", 25, 8900, 1.2),
    Product(27, "캣닢 쿠키 80g", 25, 6900, 0.8),
    Product(28, "오리 목뼈 간식 10개입", 25, 13500, 0.6),
    # 배변패드
    Product(29, "[멍냥] 프리미엄 초흡수 배변패드 200매 대용량", 26, 42900, 2.5),
    Product(30, "숯 탈취 배변패드 50매", 26, 13900, 1.5),
    Product(31, "배변판 대형 그레이", 26, 24900, 1.0),
    Product(32, "기저귀 소형견용 10매", 26, 9900, 0.4),
    # 장난감
    Product(33, "노즈워크 담요", 27, 19900, 1.0),
    Product(34, "삑삑이 라텍스 공 3종", 27, 7900, 0.8),
    Product(35, "깃털 낚싯대 장난감", 27, 5900, 1.0),
    Product(36, "터널 하우스 고양이 장난감", 27, 17900, 0.5),
    Product(37, "로프 터그 장난감", 27, 6500, 0.5),
    Product(38, "자동 레이저 장난감", 27, 24900, 0.3),
    Product(39, "스크래쳐 골판지 대형", 27, 12900, 0.7),
    # 위생용품
    Product(40, "반려동물 전용 물티슈 80매 10팩", 28, 15900, 2.0),
    Product(41, "천연 탈취제 500ml", 28, 11900, 1.8),
    Product(42, "저자극 샴푸 300ml", 28, 14900, 1.0),
    Product(43, "발바닥 보습밤", 28, 9900, 0.4),
    Product(44, "귀 세정제 120ml", 28, 12500, 0.5),
    Product(45, "치약 칫솔 세트", 28, 10900, 0.5),
    Product(46, "배변봉투 300매", 28, 6900, 0.9),
    # 신선식품 정기배송 (bought as subscriptions; price per weekly delivery)
    Product(47, "멍멍 신선 화식 정기배송 (주 1회)", 29, 12900, 0.0, launch_days_before_end=720),
    Product(48, "냥냥 신선 화식 정기배송 (주 1회)", 29, 11900, 0.0, launch_days_before_end=600),
    # 고양이 모래
    Product(49, "벤토나이트 고양이 모래 7kg", 30, 15900, 2.5),
    Product(50, "두부 모래 7L", 30, 12900, 2.0),
    Product(51, "크리스탈 모래 5L", 30, 17900, 0.6),
    # 영양제
    Product(52, "관절 영양제 글루코사민 60정", 31, 29000, 1.5),
    Product(53, "유산균 장건강 30포", 31, 24000, 1.2),
    Product(54, "오메가3 피모 영양제", 31, 27000, 0.8),
    Product(55, "눈물 자국 케어 영양제", 31, 21000, 0.4),
    Product(56, "고양이 헤어볼 케어 젤", 31, 16000, 0.5),
    # 산책·외출
    Product(57, "하네스 리드줄 세트 M", 32, 25900, 0.6),
    Product(58, "자동 리드줄 5m", 32, 19900, 0.4),
    Product(59, "반려견 이동가방", 32, 49000, 0.3),
    Product(60, "겨울 패딩 조끼", 32, 29900, 0.4, launch_days_before_end=60),
    Product(61, "산책 물병", 32, 9900, 0.3),
    # 급식·급수기
    Product(62, "세라믹 식기 2구", 33, 18900, 0.7),
    Product(63, "자동 급수기 정수 필터형", 33, 39000, 0.5),
    Product(64, "자동 급식기 4L", 33, 69000, 0.6),
    Product(65, "정수 필터 리필 4개", 33, 12900, 0.5),
    # recent launches and a discontinued product
    Product(66, "[신상] 연어 트릿 스틱 20개입", 25, 9900, 2.5, launch_days_before_end=21),
    Product(67, "[신상] 그레인프리 연어 사료 샘플 키트", 24, 4900, 2.0, launch_days_before_end=45),
    Product(68, "구형 배변판 소형", 26, 14900, 0.3, discontinued_days_before_end=50),
    Product(69, "계절 한정 크리스마스 간식 박스", 25, 19900, 0.8, launch_days_before_end=10),
    Product(70, "실리콘 노즈워크 매트", 27, 15900, 0.5),
)
# fmt: on

HERO_PRODUCT_NOS: tuple[int, ...] = (11, 12)
SUBSCRIPTION_PRODUCT_NOS: tuple[int, ...] = (47, 48)

# Viewers of a hero product also look at these (the "co-view" analysis of DOMAIN.md).
COVIEW_AFFINITY: dict[int, tuple[int, ...]] = {
    11: (30, 41, 40, 31),  # pads → charcoal pads, deodoriser, wipes, tray
    12: (21, 52, 62, 67),  # salmon food → salmon treats, joint supplement, bowl, sample kit
}

SEARCH_TERMS: tuple[str, ...] = (
    "배변패드", "강아지 사료", "고양이 사료", "연어 사료", "그레인프리", "츄르", "간식", "덴탈껌", "고양이 모래",
    "두부모래", "물티슈", "탈취제", "장난감", "노즈워크", "하네스", "영양제", "관절", "유산균", "자동급식기",
    "신선식", "화식", "정기배송", "쿠폰", "세일", "샴푸",
)  # fmt: skip

# Korean regions (first address token) with population weights and the city Amplitude's geo lookup reports.
REGIONS: tuple[tuple[str, float, str], ...] = (
    ("서울특별시", 0.19, "Seoul"),
    ("경기도", 0.26, "Suwon"),
    ("인천광역시", 0.06, "Incheon"),
    ("부산광역시", 0.065, "Busan"),
    ("대구광역시", 0.045, "Daegu"),
    ("광주광역시", 0.028, "Gwangju"),
    ("대전광역시", 0.028, "Daejeon"),
    ("울산광역시", 0.021, "Ulsan"),
    ("세종특별자치시", 0.007, "Sejong"),
    ("강원특별자치도", 0.03, "Chuncheon"),
    ("충청북도", 0.031, "Cheongju"),
    ("충청남도", 0.041, "Cheonan"),
    ("전북특별자치도", 0.034, "Jeonju"),
    ("전라남도", 0.035, "Suncheon"),
    ("경상북도", 0.05, "Pohang"),
    ("경상남도", 0.063, "Changwon"),
    ("제주특별자치도", 0.013, "Jeju"),
)

PLATFORMS: tuple[str, ...] = ("Web", "iOS", "Android")
PLATFORM_WEIGHTS: tuple[float, ...] = (0.35, 0.25, 0.40)

# Acquisition channels of a session: (name, weight among non-messaging sessions)
CHANNELS: tuple[str, ...] = ("organic_search", "paid", "social", "messaging", "direct")
CHANNEL_WEIGHTS: tuple[float, ...] = (0.30, 0.22, 0.13, 0.05, 0.30)

# session_start properties per channel: (utm_source, utm_medium, referrer) alternatives
UTM_VARIANTS: dict[str, tuple[tuple[str | None, str | None, str | None], ...]] = {
    "organic_search": (
        (None, None, "https://search.naver.com/search.naver"),
        (None, None, "https://www.google.com/"),
        (None, None, "https://search.daum.net/search"),
    ),
    "paid": (
        ("naver", "cpc", "https://search.naver.com/search.naver"),
        ("google", "cpc", "https://www.google.com/"),
        ("meta", "paid", "https://www.instagram.com/"),
        ("kakao", "display", "https://m.kakao.com/"),
    ),
    "social": (
        ("instagram", "social", "https://www.instagram.com/"),
        ("youtube", "social", "https://www.youtube.com/"),
        ("facebook", "social", "https://www.facebook.com/"),
    ),
    "messaging": (
        ("crm", "kakao", None),
        ("crm", "sms", None),
    ),
    "direct": ((None, None, None),),
}

# Campaign ids of messages sent before this pipeline existed (the shop's manual newsletters).
LEGACY_CAMPAIGNS: tuple[str, ...] = ("legacy-weekly-news", "legacy-pad-restock", "legacy-birthday")

COUPON_CODES: tuple[str, ...] = ("WELCOME5000", "PCT10", "SAVE3000", "SAVE5000", "PAD20")

PAYMENT_METHODS: tuple[str, ...] = ("card", "virtual_account", "kakaopay", "naverpay")
PAYMENT_WEIGHTS: tuple[float, ...] = (0.55, 0.15, 0.16, 0.14)

FREE_SHIPPING_THRESHOLD = 30_000
SHIPPING_FEE = 3_000
