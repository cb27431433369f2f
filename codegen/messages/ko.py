"""한국어 (Korean): the write-ups' every sentence; the mathematics is the same as in English."""

MESSAGES = {
    # 제목과 첫 문단.
    "title": "{name}의 역전파",
    "author": "유도: gradscribe {version}",
    "intro.network": "네트워크 {net}, 크기 {sizes}, {layout}.",
    "intro.symbols": (
        r"$N$은 배치 크기이고, $\odot$은 원소별 곱, $\mathbf{1}$은 모든 원소가 1인 "
        "길이 $N$의 벡터입니다."
    ),
    "intro.tags": "모든 식에는 생성된 NumPy 코드에서 쓰는 이름이 태그로 붙어 있습니다.",
    "layout.column": (
        r"열 배치: 열마다 표본 하나, "
        r"$G_l = W_l R_{l-1} + B_l \mathbf{1}^{\top}$"
    ),
    "layout.row": (
        r"행 배치: 행마다 표본 하나, $G_l = R_{l-1} W_l + \mathbf{1} B_l$ "
        "($B_l$은 행 벡터이며 배치 전체에 브로드캐스트됩니다)"
    ),
    # 네트워크 그림.
    "draw.title": "네트워크",
    "draw.input": "입력",
    "draw.layer": "층",
    "draw.dropout": "드롭아웃",
    "draw.units": "유닛 {n}개",
    "draw.targets": "목표값",
    # 형태.
    "shapes.title": "행렬의 형태",
    "shapes.symbol": "기호",
    "shapes.shape": "형태",
    "shapes.meaning": "의미",
    "shape.X.column": "입력, 열마다 표본 하나",
    "shape.X.row": "입력, 행마다 표본 하나",
    "shape.W": "층 {l}의 가중치",
    "shape.B": "층 {l}의 편향",
    "shape.G": "층 {l}의 활성화 이전 값",
    "shape.R": "층 {l}의 출력, {act}",
    "shape.A": "층 {l} 활성화 함수의 출력, {act}, 드롭아웃 이전",
    "shape.MU": "단위별 $G_{{{l}}}$의 배치 평균 (배치 정규화)",
    "shape.VAR": "단위별 $G_{{{l}}}$의 배치 분산 (편향 분산)",
    "shape.GH": "층 {l}의 정규화된 활성화 이전 값",
    "shape.gamma": "층 {l}의 배치 정규화 배율 (초깃값 1)",
    "shape.beta": "층 {l}의 배치 정규화 이동 (초깃값 0)",
    "shape.Y": "층 {l} 활성화 함수의 입력, $\\gamma_{{{l}}} \\odot \\hat{{G}}_{{{l}}} + \\beta_{{{l}}}$",
    "shape.M": "층 {l}의 드롭아웃 마스크: 1은 단위를 남기고 0은 버립니다 ($p = {p}$)",
    "shape.P": "예측값, {p}",
    "shape.T": "목표값",
    # 순방향 계산, 손실, 활성화 함수.
    "forward.title": "순방향 계산",
    "loss.title": "손실 함수: {title}",
    "activations.title": "사용한 활성화 함수의 도함수",
    "activations.layer": "층 {layers}",
    "activations.layers": "층 {layers}",
    "activations.with_r": "단, $r = f(z)$",
    "activations.softmax": (
        "각 표본의 유닛들에 걸쳐 정규화하며, 그 도함수는 결합된 출력 오차를 통해서만 들어갑니다"
    ),
    # 역방향 계산.
    "backward.title": "역방향 계산",
    "backward.intro": (
        r"$\delta_l = \partial L / \partial G_l$로 씁니다. 그 형태는 $G_l$의 형태와 같습니다."
    ),
    "backward.output": "출력 오차",
    "backward.layer": "층 {l}",
    "delta.fused": (
        "{title} 손실은 {output} 출력과 결합되어 있습니다. {g}에 대한 손실의 도함수는 "
        "$P - T$의 상수배로 간단해집니다{tail}"
    ),
    "delta.fused.softmax": " (각 표본의 목표값은 합이 1입니다).",
    "delta.fused.end": ".",
    "delta.plain": (
        r"손실에서 얻은 $\partial L / \partial P$에 출력 활성화 함수의 도함수를 원소별로 "
        "곱합니다."
    ),
    "expanded.title": "연쇄를 대입한 마지막 층들",
    # 참고.
    "notes.title": "참고",
    "notes.no_bias": "층 {l}에는 편향이 없습니다: G{l}에 B{l} 항이 없고 dB{l}도 없습니다.",
    "notes.batch_norm": (
        "층 {l}은 배치를 정규화합니다 ($\\varepsilon = {eps}$): $\\mu_{{{l}}}$와 "
        "$\\sigma^{{2}}_{{{l}}}$는 단위별 배치 평균과 편향 분산이므로, 각 표본의 "
        "$\\delta_{{{l}}}$는 배치 전체에 의존합니다. $\\delta^{{Y}}_{{{l}}}$는 "
        "$\\partial L / \\partial Y_{{{l}}}$이고 $\\delta^{{\\hat{{G}}}}_{{{l}}} = \\gamma_{{{l}}} "
        "\\odot \\delta^{{Y}}_{{{l}}}$입니다. 평가 모드에서 커널은 대신 이동 통계를 씁니다 "
        "(이동값 = {momentum} 이동값 + (1 - {momentum}) 배치값)."
    ),
    "notes.batch_norm_bias": (
        "층 {l}은 편향을 유지하지만 $\\partial L / \\partial B_{{{l}}} = 0$입니다: 모든 표본에 "
        "$B_{{{l}}}$를 더하면 배치 평균 $\\mu_{{{l}}}$도 같은 만큼 움직이므로 "
        "$\\hat{{G}}_{{{l}}}$와 손실은 $B_{{{l}}}$에 의존하지 않습니다 ($\\beta_{{{l}}}$가 그 역할을 합니다)."
    ),
    "notes.dropout": (
        "층 {l}은 확률 $p = {p}$로 단위를 버립니다 (역 드롭아웃): 마스크 $M_{{{l}}}$는 유도의 "
        "입력이고, 남은 단위는 $1/(1 - p) = {scale}$배가 되므로 같은 마스크와 배율이 아래 층의 "
        "$\\delta$에 곱해집니다. 평가 모드에서는 드롭아웃을 쓰지 않습니다."
    ),
    "notes.weight_decay": (
        "가중치 감쇠 $\\lambda = {lam}$: 손실에 $\\tfrac{{\\lambda}}{{2}} \\sum_l "
        "\\lVert W_l \\rVert_F^2$가 더해지므로 모든 $\\partial L / \\partial W_l$에 "
        "$\\lambda W_l$이 더해집니다 (PyTorch의 weight decay). 편향, $\\gamma$, $\\beta$에는 벌점이 없습니다."
    ),
    "notes.l2": (
        "L2 벌점 $\\lambda = {lam}$: 손실에 $\\lambda \\sum_l \\lVert W_l \\rVert_F^2$가 "
        "더해지므로 모든 $\\partial L / \\partial W_l$에 $2 \\lambda W_l$이 더해집니다 "
        "(강의 코드의 reg * np.sum(W * W)). 편향, $\\gamma$, $\\beta$에는 벌점이 없습니다."
    ),
    "notes.warning": "층 {l}은 {activation} 활성화 함수를 씁니다: {warning}.",
    "warning.step": "도함수가 어디서나 0이므로 그 아래의 층은 아무것도 학습하지 않습니다",
    # 손실 함수의 이름.
    "loss_name.mse": "평균 제곱 오차",
    "loss_name.half_sse": "제곱 오차 합의 절반",
    "loss_name.cross_entropy": "교차 엔트로피",
    "loss_name.binary_cross_entropy": "이진 교차 엔트로피",
    "loss_name.sse": "제곱 오차의 합",
    "loss_name.cross_entropy@sum": "합산 교차 엔트로피",
    "loss_name.binary_cross_entropy@sum": "합산 이진 교차 엔트로피",
    # 계산 예제.
    "example.title": "계산 예제",
    "example.seeded": (
        "$X$, $T$와 매개변수에는 작은 시드 값(실행할 때마다 같음)을 씁니다. "
        "배치 크기는 $N = {batch}$입니다."
    ),
    "example.table": "스펙의 {table} 표에 있는 숫자를 씁니다. 배치 크기는 $N = {batch}$입니다.",
    "example.rounding": (
        "각 줄은 같은 태그가 붙은 식을 이 숫자들에서 계산한 값이며, 소수점 아래 8자리로 "
        "반올림했습니다."
    ),
    "example.given": "주어진 값",
    "example.forward": "순방향 계산",
    "example.loss": "손실",
    "example.backward": "역방향 계산",
    # 한 번에 한 층 (layer:KIND:SIZES).
    "layer.title": "층 하나: {kind}",
    "layer.intro": "층 {net}, 크기 {sizes}, {layout}.",
    "layer.layout.row": "행 배치: 행마다 표본 하나",
    "layer.layout.column": "열 배치: 열마다 표본 하나",
    "layer.symbols": (
        r"$N$은 배치 크기이고, $\odot$은 원소별 곱, $\mathbf{{1}}$은 모든 원소가 1인 길이 $N$의 "
        r"벡터입니다. 어떤 양 $z$에 대해서든 $\mathrm{{d}}z$는 $\partial L / \partial z$를 "
        r"뜻하며, $L$은 전체 연쇄의 끝에 있는 스칼라입니다."
    ),
    "layer.tags": "모든 식에는 층의 코드에서 쓰는 이름(out, dx, dw, ...)이 태그로 붙어 있습니다.",
    "layer.vjp.title": "국소 기울기",
    "layer.vjp.intro": (
        r"이 층은 위층에서 $\mathrm{{d}}\mathrm{{out}} = \partial L / \partial \mathrm{{out}}$을 "
        "받습니다. 각 국소 기울기는 이것과의 벡터-야코비 곱입니다. 즉 "
        r"$\langle \mathrm{{d}}\mathrm{{out}}, \mathrm{{out}} \rangle = "
        r"\sum \mathrm{{d}}\mathrm{{out}} \odot \mathrm{{out}}$을 입력이나 매개변수로 미분한 "
        "것이며, 역전파는 이것을 연쇄합니다."
    ),
    "layer.vjp.loss": (
        r"손실은 연쇄의 끝입니다: $\mathrm{{d}}x = \partial L / \partial x$는 손실 자체의 "
        "도함수입니다."
    ),
    "layer.loss.title": "손실 함수: {title}",
    "layer.activation": "활성화 함수",
    "layer.shape.x": "입력",
    "layer.shape.scores": "점수 (손실의 입력)",
    "layer.shape.w": "가중치",
    "layer.shape.b": "편향",
    "layer.shape.out": "출력",
    "layer.shape.dout": "위층에서 온 기울기",
    "layer.shape.mask": "드롭아웃 마스크 (0 또는 1)",
    "layer.shape.t": "목표값",
    "layer.shape.p": "확률",
    "layer.shape.gamma": "배율",
    "layer.shape.beta": "이동",
    "layer.shape.mu": "유닛별 배치 평균",
    "layer.shape.var": "유닛별 배치 분산 (편향 분산)",
    "layer.shape.xhat": "정규화된 입력",
    "layer.shape.dxhat": "정규화된 입력에서의 기울기",
    "layer.note.dropout": (
        "역 드롭아웃: 각 유닛은 확률 1 - p = {keep}로 남고 1 / (1 - p)배가 됩니다. 학습 때 "
        "배율을 곱하지 않는 코드(대신 시험 때 곱함)에서는 마스크 자체가 곱해지는 값이며, "
        "검사기는 순방향 계산이 돌려준 값에서 어느 쪽인지 읽습니다."
    ),
    "layer.note.batchnorm": (
        "학습 모드: 평균과 분산은 배치 자체의 값(편향 분산)이며, epsilon = {eps}입니다. "
        "검사기는 순방향 계산의 출력에서 epsilon을 읽습니다."
    ),
    "layer.note.labels": (
        "정수 클래스 레이블 y (형태 (N,))를 받는 코드에서 t는 y의 원-핫 행들입니다."
    ),
    "layer.example.seeded": (
        "모든 입력에 작은 시드 값(실행할 때마다 같음)을 씁니다. 배치 크기는 $N = {batch}$입니다."
    ),
    # The HTML write-up.
    "html.kernel.title": "생성된 NumPy 코드",
    "html.kernel.intro": (
        "`gradscribe codegen`이 이 네트워크에 대해 쓰는 모듈(fast 스타일)입니다. "
        "이름은 식의 태그와 같습니다."
    ),
}
