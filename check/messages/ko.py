"""한국어 (Korean): check 보고서의 모든 문장. 수식, 이름(dW2, δ3, G1)과 명령줄 옵션은 영어와 같습니다."""

MESSAGES = {
    # 문장과 목록 잇기
    "or": "{a} 또는 {b}",
    "and": "{a}, 그리고 {b}",
    # 기울기의 틀린 원소가 있는 곳
    "confined": "오차는 {name}의 {where}에만 있습니다",
    "confined.entries": "원소 {runs}",
    "confined.rows": "행 {runs}",
    "confined.columns": "열 {runs}",
    "confined.count": "원소 {size}개 중 {count}개가 틀렸습니다",
    # 활성화 함수 도함수의 실수 (연쇄의 변형)
    "slip.missing": "층 {l}의 활성화 함수 도함수 {act}'(G{l})를 빠뜨렸습니다",
    "slip.onR": "층 {l}의 {act}'(·)를 G{l} 대신 R{l}에서 계산했습니다",
    "slip.outG": ("층 {l}의 {act}' 공식에는 출력 R{l}(이)가 들어가야 하는데 G{l}(을)를 넣었습니다 "
                  "(f'을 r = f(z)로 쓴 공식)"),
    "slip.at": "층 {l}의 {act}'(·)를 G{l} 대신 G{j}에서 계산했습니다 ({index})",
    "slip.other": "층 {l}의 {act}' 자리에 {other}의 도함수를 썼습니다",
    "slip.other_on_G": ("층 {l}의 {act}' 자리에 {other}의 도함수 공식 {form}(을)를 G{l}(활성화 이전 값)에 "
                        "적용했습니다"),
    "slip.extra": ("δ{L}에 {factor}(을)를 곱했습니다. 합쳐진 {act} + {loss}의 델타 (P - T)에 이미 "
                   "들어 있는 항입니다"),
    "extra.diagonal": "P ⊙ (1 - P) ({act}의 대각 성분)",
    "index.off_by_one": "층 번호가 하나 어긋남",
    "index.wrong": "틀린 층 번호",
    # 이름 붙은 배수
    "factor.over_n.mean": ("1/N (배치 크기로 한 번 더 나눴습니다: 손실의 배치 평균은 이미 δ에 "
                           "들어 있습니다. 더해야 할 곳에서 평균을 냈습니다)"),
    "factor.times_n.mean": "N (손실은 평균을 내는데 배치에 대해 더했습니다: 1/N이 빠졌습니다)",
    "factor.over_n.sum": ("1/N (배치 크기로 나눴지만, 손실은 1/N 없이 배치에 대해 더한 값입니다. "
                          "더해야 할 곳에서 평균을 냈습니다)"),
    "factor.times_n.sum": "N (배치 크기를 곱했습니다. 더하는 손실에는 없는 배수입니다)",
    "factor.over_n_out.mean": "1/n_L = 1/{n} (출력 너비로 한 번 더 나눴습니다)",
    "factor.times_n_out.mean": "n_L = {n} (출력 유닛에 대한 평균의 1/n_L이 빠졌습니다)",
    "factor.over_n_out.sum": "1/n_L = 1/{n} (출력 너비로 나눴지만, 손실은 출력 유닛에 대해 평균을 내지 않습니다)",
    "factor.times_n_out.sum": "n_L = {n} (출력 너비를 곱했습니다)",
    "factor.twice": "2 (맞는 값의 두 배)",
    "factor.half": "1/2 (맞는 값의 절반)",
    "factor.sign": "-1 (부호가 반대입니다)",
    "factor.times_all": "N n_L (N n_L개 원소 전체에 대한 평균이 빠졌습니다)",
    "factor.zero": "0 (모두 0입니다)",
    # 기울기 하나의 진단
    "diag.nan": "{name}(층 {layer})에 NaN이나 무한대 값이 있습니다",
    "diag.transposed": "{name}(이)가 전치되어 있습니다(층 {layer}): {name}.T의 값을 담고 있습니다",
    "diag.factor": "{name}(층 {layer})이 {text}배만큼 어긋납니다",
    "diag.slip": "{name}: {slip}",
    "diag.slip_above": ("{name}(은)는 오차가 층 {origin}에서 시작해 층 {layer}까지 아래로 전파되었기 "
                        "때문에만 틀립니다. 층 {origin}의 실수: {slip}"),
    "diag.transposed_shape": "{name}(이)가 전치되어 있습니다(층 {layer}): {want}이어야 할 형태가 {got}입니다",
    "diag.reshaped": "{name}(층 {layer})은 값은 맞지만 형태가 다릅니다: {want} 대신 {got}",
    "clause.factor": "{text}배만큼 어긋납니다",
    "clause.slip_above": ("오차가 층 {origin}에서 시작해 층 {layer}까지 아래로 전파되었기 때문에만 "
                          "틀립니다. 층 {origin}의 실수: {slip}"),
    "clause.reduced": "{text}: 받은 형태 {shape}",
    "clause.transposed": "전치되어 있습니다(층 {layer}): {name}.T의 값을 담고 있습니다",
    "wl.pairs": "δ{layer}(을)를 층 {layer}의 입력 {prev} 대신 {r}(와)과 짝지었습니다 ({index})",
    "wl.delta": "δ{layer} 자리에 δ{j}(을)를 썼습니다 ({index})",
    "upd.param": "{name}(층 {layer})은 기울기가 아니라 매개변수 {param} 자체입니다",
    "upd.step": "{name}(층 {layer})은 기울기가 아니라 갱신된 매개변수 {param} - {lr:.3g} * {name}입니다",
    # 잘못된 축으로 줄인 편향 기울기
    "red.result": "dB{layer}(을)를 {text}: 받은 형태 {shape}",
    "red.sum_units": ("배치 대신 층 {layer}의 유닛에 대해 더했습니다 (dB{layer}에는 유닛마다 "
                      "원소가 하나씩, {n}개가 있어야 합니다)"),
    "red.mean_units": "배치에 대해 더하는 대신 층 {layer}의 유닛에 대해 평균을 냈습니다",
    "red.sum_all": "스칼라로 줄였습니다: δ{layer}(을)를 배치와 층 {layer}의 유닛 모두에 대해 더했습니다",
    "red.mean_all": "스칼라로 줄였습니다: δ{layer} 전체의 평균입니다(층 {layer})",
    "red.mean_batch": "배치에 대해 더하는 대신 평균을 냈고(층 {layer}; {why}) 형태도 틀렸습니다",
    "red.why.mean": "손실의 1/N은 이미 δ{layer}에 들어 있습니다",
    "red.why.sum": "손실은 1/N 없이 배치에 대해 더한 값입니다",
    "red.none": "배치에 대해 줄이지 않았습니다: δ{layer} 자체입니다(층 {layer})",
    # 두 실수가 한꺼번에
    "two.undone": "{name}(층 {layer})에는 실수가 둘 있습니다: {first}; 이를 되돌리면 {name}(은)는 {rest}",
    "two.it_factor": "{name}(층 {layer})에는 실수가 둘 있습니다: {rest}; 그리고 {factor}배만큼 어긋납니다",
    "two.it_and": "{name}(층 {layer})에는 실수가 둘 있습니다: {rest}; 그리고 {where}",
    "two.factor": "{name}(층 {layer})에는 실수가 둘 있습니다: {factor}배만큼 어긋납니다; 그리고 {where}",
    "two.layers": ("{name}(층 {layer})에는 실수가 둘 있습니다: 오차가 층 {origin}에서 시작해 아래로 "
                   "전파됩니다(층 {origin}의 실수: {upper}); 그리고 층 {l}의 실수도 있습니다: {slip}"),
    "where.own": "{slip}",
    "where.above": "오차가 층 {origin}에서 시작해 아래로 전파됩니다(층 {origin}의 실수: {slip})",
    "undo.not_reduced": "배치에 대해 줄이지 않았습니다({want}이어야 할 형태가 {got})",
    "undo.transposed_shape": "전치되어 있습니다({want}이어야 할 형태가 {got})",
    "undo.reshaped": "형태가 다릅니다({want} 대신 {got})",
    "undo.transposed": "전치되어 있습니다",
    # 보고서
    "cat": "{a}{b}",
    "table.title": "{net}에서 {subject} 검사 (배치 크기 {batches})",
    "table.param": "매개변수",
    "table.verdict": "판정",
    "table.abs": "최대 절대 오차",
    "table.rel": "최대 상대 오차",
    "table.expected": "기대 형태",
    "table.got": "받은 형태",
    "table.diagnosis": "진단",
    "table.ok": "맞음",
    "table.wrong": "틀림",
    "table.note": "  참고: {note}",
    "markdown.title": "`{net}`에서 `{subject}` **검사**: {summary}",
    "summary.failed": "실패: {error}",
    "summary.none": "실패: 기울기를 돌려주지 않았습니다",
    "summary.right": "모두 맞습니다",
    "summary.wrong": "틀림: {names}",
    # judge의 참고
    "note.capped": ("메모리를 제한하려고 너비 {sizes}(매개변수 {count}개) 대신 줄인 너비 {small}"
                    "(매개변수 {small_count}개)에서 검사했습니다. 유도는 어느 너비에서나 같습니다"),
    "error.masks_hidden": ("{name}(은)는 드롭아웃 마스크({masks})를 스스로 뽑고, 검사기가 읽을 수 있는 곳(드롭아웃 계층 객체의 `mask`)에 두지도 인자(`masks`, `mask`)로 받지도 않습니다: 드롭아웃 계층 {layer}(을)를 따로 검사하세요: `{command}`"),
    "note.dropout_test_scaled": ("{name}(은)는 학습 때 드롭아웃 마스크만 곱합니다(시험 때 1 - p를 곱하는 방식, 책의 Dropout처럼; p = {p}): 그 관례로 판정했습니다. 역드롭아웃의 mask / (1 - p)에서 마스크에 1 - p를 곱한 것과 같은 기울기입니다"),
    "eps.convention": "ε = {eps}인 배치 정규화로는 맞습니다(신경망의 ε는 {ours}): {spelled}(으)로 검사하세요",
    "eps.diag": "{name}: ε가 다릅니다. {text}",
    "note.eps": "{name}(은)는 다른 ε로 정규화합니다: {text}",
    "note.masks_read": "{name}(은)는 드롭아웃 마스크를 스스로 뽑습니다: 호출마다 드롭아웃 계층의 `mask`에서 {masks}(을)를 읽어 그 마스크로 기울기를 판정했습니다",
    "note.setting": "{name}: {setting}(이)가 기본값 그대로입니다. 손실을 바꾸는 인자입니다(가중치에 대한 벌점)",
    "note.modified_data": "{name}(이)가 {label}(을)를 제자리에서 바꿨습니다",
    "note.one_sample": ("{label}(은)는 표본 하나를 받습니다: 배치(N = {batch})에서는 {why}, 표본 하나"
                        "({one})에서는 {shapes}. 그래서 표본마다 한 번씩 호출하고 결과를 {combined}"),
    "sample.reason.sums": "가중치 기울기가 표본별 결과를 더한 값입니다(손실에는 그 평균이 필요합니다)",
    "sample.reason.names": "데이터 이름이 표본 하나를 가리킵니다({names})",
    "sample.averaged": "평균 냅니다(손실이 배치 평균입니다)",
    "sample.summed": "더합니다",
    "sample.batch_of_one": "크기 1인 배치",
    "sample.vectors": "보통 벡터",
    "sample.shapes_right": "모든 형태가 맞습니다",
    "sample.runs": "실행됩니다",
    "sample.raised": "{kind}(을)를 일으켰고",
    "sample.shape": "d{key}(을)를 형태 {shape}(으)로 돌려줬고",
    "note.other_loss": ("모든 기울기가 {losses}에서는 맞습니다: 코드는 {loss}(이)가 아니라 그 손실의 δ{L}(을)를 "
                        "계산합니다(그것이 쓰려던 손실이면 {spelled}(으)로 검사하세요)"),
    "hint.other_loss": "; {losses}에서는 맞습니다({spelled}(으)로 검사하세요)",
    "note.convention": "모든 기울기가 같은 {text}배만큼 어긋납니다: {conclusion}",
    "convention.matches": "손실의 관례 차이입니다: 코드는 {loss}(이)가 아니라 {losses}에 맞습니다({spelled}(으)로 검사하세요)",
    "convention.scaled": ("손실의 도함수 δ{L}에서 온 차이입니다: 역전파의 실수라기보다 손실의 관례 "
                          "차이입니다(손실의 배율이 {loss}(와)과 다릅니다)"),
    "convention.diag": "d{name}(층 {layer})이 {text}배만큼 어긋나며 모든 층에서 같습니다: {conclusion}",
    # 옵션이 답인 경우
    "hint.labels": "T를 정수 클래스 레이블(형태 (N,))로 주면 실행됩니다: --targets labels로 검사하세요",
    "hint.layout": "{layout} 배치에서는 실행됩니다: {spelled}(으)로 검사하세요",
    "hint.flag": "; {hint}",
    "hint.flag.right": "; {hint}(거기서는 모든 기울기가 맞습니다)",
    "hint.batch_one": ("; 크기 1인 배치에서는 맞으므로 표본 하나를 위한 코드일 가능성이 큽니다: "
                       "--batch 1로 검사하세요"),
    "hint.runs_for_one": ("; 크기 1인 배치에서는 실행되므로 표본 하나를 위한 코드일 가능성이 큽니다: "
                          "--batch 1로 검사하세요"),
    "hint.fails_for_one": "; 크기 1인 배치에서도 실패합니다",
    # judge의 실패와 판정
    "error.no_gradients": "{name}(이)가 기울기를 돌려주지 않았습니다",
    "error.raised": "{name}(이)가 {shapes}(N = {batch})로 호출되었을 때 {exception}(을)를 일으켰습니다",
    "modified.updated": ("{name}(이)가 params['{key}']를 제자리에서 갱신했습니다. 역전파는 기울기를 "
                         "돌려주고 매개변수는 그대로 두어야 합니다"),
    "modified.returned": ("{name}(이)가 params['{key}']를 제자리에서 갱신하고 그것을 기울기로 돌려줬습니다. "
                          "역전파는 기울기를 돌려주고 매개변수는 그대로 두어야 합니다"),
    "modified.replaced": ("{name}(이)가 호출한 쪽의 딕셔너리에서 params['{key}']를 바꿔 넣었습니다. "
                          "역전파는 기울기를 돌려주고 매개변수는 그대로 두어야 합니다"),
    "diag.not_a_param": "'{key}'는 네트워크의 매개변수가 아닙니다: 기울기의 키를 params처럼 붙이세요({known})",
    "diag.missing_at": "N = {first}에서는 돌려줬지만 N = {batch}에서는 돌려주지 않았습니다",
    "diag.not_numbers": "{key}: 숫자 배열이 아닙니다",
    "diag.note_right": "{note}(돌려준 기울기 자체는 맞습니다)",
    "diag.note_also": "{note}; 또한: {diagnosis}",
    "nocause": "{name}(층 {layer}): {figures}",
    "nocause.what": "단순한 원인을 찾지 못했습니다{figs}",
    "figs.errors": ": 최대 절대 오차 {abs:.3g}, 최대 상대 오차 {rel:.3g}",
    "figs.shape": ": {want}이어야 할 형태가 {got}(N = {batch})",
    "figs.where": "; {where}",
    "figs.worst": "; 가장 큰 차이 {worst}",
    "worst": "{name}[{where}]: 받은 값 {got:.6g}, 기대한 값 {want:.6g}(N = {batch})",
    # L2 벌점
    "penalty.added": "d{key}에 {c:.6g}·{key}(이)가 더해졌고 편향에는 아무것도 더해지지 않았습니다: {cause}",
    "penalty.besides": "{added}; 그 밖에 {text}",
    "penalty.l2": ("코드의 손실에 L2 벌점 {l2:.6g}·ΣW²({name} = {value:g})가 있는데 {loss}에는 "
                   "없습니다(손실 {loss}+l2@{l2:.6g}에는 있습니다)"),
    "penalty.wd": ("코드의 손실에 가중치 감쇠 {wd:.6g}, 곧 벌점 ({wd:.6g}/2)·ΣW²({name} = {value:g})가 "
                   "있는데 {loss}에는 없습니다(손실 {loss}+wd@{wd:.6g}에는 있습니다)"),
    "penalty.either": ("코드의 손실에 L2 벌점 {l2:.6g}·ΣW² 또는 가중치 감쇠 {wd:.6g}(({wd:.6g}/2)·ΣW²)가 "
                       "있는데 {loss}에는 없습니다(손실 {loss}+l2@{l2:.6g}(와)과 {loss}+wd@{wd:.6g}에는 "
                       "있습니다)"),
    # 오차가 시작하는 곳
    "prop.own_text": ("같은 층의 d{right}(은)는 맞으므로 δ{l}(은)는 맞고, 오차는 위층이 아니라 δ{l}에서 "
                      "d{name}(으)로 가는 자기 단계에 있습니다"),
    "prop.own": "d{name}(층 {l})에는 자기 오차가 있습니다: {own}({figures})",
    "prop.same_factor": "; 층 {top}의 배수와 같으므로 오차는 층 {top}(δ{top})에서 시작해 아래로 전파됩니다",
    "prop.two": ("d{name}(층 {l})에는 실수가 둘 있습니다: 오차가 위의 층 {top}에서 시작해 아래로 "
                 "전파되고, 코드가 쓴 δ{up}에서 시작하는 자기 단계도 {slip}({figures})"),
    "prop.not_follow": ("d{name}(층 {l})에는 자기 오차가 있습니다: 코드가 쓴 δ{up}에서 나오지 "
                        "않습니다({figures})"),
    "prop.inherited": ("d{name}(층 {l})은 오차가 층 {origin}에서 시작해 아래로 전파되었기 때문에만 "
                       "틀립니다: δ{up}에서 시작하는 자기 단계는 맞습니다({figures})"),
    "prop.likely": ("d{name}(층 {l})(이)가 틀리고 위의 층 {top}의 기울기도 틀립니다: 오차는 가장 위의 틀린 층인 "
                    "층 {top}에서 시작해 층 {l}까지 아래로 전파되었을 가능성이 큽니다({figures})"),
    # 공식
    "formula.shapes": "형태가 맞지 않습니다: {exc}(N = {batch})",
    "formula.eval": "계산할 수 없습니다: {exc}",
    "formula.diag": "{lhs}(층 {layer}): {why}",
    "formula.numeric_only": "수치로만 판정했습니다: 정확한 판정은 너비 {width}까지입니다",
    "formula.exact_failed": "수치로만 판정했습니다: 정확한 계산이 실패했습니다({exc})",
    "formula.not_exact": "{lhs}(층 {layer})는 수치로는 맞지만 정확히는 같지 않습니다: {mismatch}",
    "formula.exact": "{lhs}(은)는 유도한 값과도 정확히 같습니다(정확한 점, N = 2)",
    # FUNC를 부른 방식 (conventions)
    "conv.the_object": "{cls} 객체",
    "conv.pair": "{label}(은)는 데이터를 '{name}'에 짝 (X, T) 하나로 받습니다",
    "conv.passed": "{label}에 {settings}(을)를 넘깁니다(신경망의 설정을 코드가 쓰는 이름으로)",
    "conv.by_name": "{label}(은)는 {names}(을)를 이름으로 받습니다",
    "conv.built": "{how}(으)로 만들었습니다; 매개변수 설정: {where}",
    "conv.used": "{how}(을)를 썼습니다; 매개변수 설정: {where}",
    "conv.square": "{names}(은)는 정사각 행렬입니다: 다른 가중치처럼 전치되어 저장된 것으로 봅니다",
    "conv.squares": "{names}(은)는 정사각 행렬입니다: 다른 가중치처럼 전치되어 저장된 것으로 봅니다",
    "conv.transposed": ("{key}(은)는 전치되어 저장되어 있습니다. {layout} 배치의 {want} 대신 {stored}: "
                        "기울기는 다시 전치해서 판정합니다"),
    "conv.read": "{label}(이)가 {keys}(을)를 읽었습니다(네트워크의 {names}(을)를 줬습니다)",
    "conv.changed": ("{label}(이)가 호출 중에 {where}(을)를 바꿨습니다(안에서 매개변수를 갱신했나요?): "
                     "매개변수는 호출할 때마다 다시 설정하고, 돌려준 기울기를 그대로 판정합니다"),
    "conv.loss_grads": "{label}(이)가 (손실, 기울기)를 돌려줬습니다: 손실은 판정하지 않습니다",
    "conv.key_as": "{key} → {name}",
    "conv.keys_read": "네트워크의 이름으로 읽은 키: {renamed}",
    "conv.not_gradients": ("{label}(이)가 기울기가 아니라 {type}(을)를 돌려줬습니다(딕셔너리, 배열의 튜플이나 "
                           "리스트, 또는 (loss, grads)여야 합니다)"),
    "conv.what.arrays": "배열 {n}개의 {kind}",
    "conv.what.lists": "리스트 {lists}개(배열 {n}개)의 {kind}",
    "conv.number_first": "{label}(이)가 맨 앞에 숫자를 돌려줬습니다: 손실로 보고 판정하지 않습니다",
    "conv.untold": ("{label}(이)가 {what}(을)를 돌려줬습니다. 네트워크의 매개변수는 {count}개({names})라서 "
                    "구별할 수 없습니다(그 이름을 키로 하는 딕셔너리를 돌려주세요)"),
    "conv.sequence": "{label}(이)가 {what}(을)를 돌려줬고, 형태와 순서로 ({order}){direction}(으)로 읽었습니다",
    "conv.last_first": "(마지막 층부터)",
    # 작업 프로세스
    "worker.failed": "{label}(이)가 {why}(N = {batch})",
    "worker.instead": "값을 돌려주는 대신 {why}",
    "worker.timeout": "제한 시간 {timeout:g}초(--timeout) 안에 끝나지 않아 멈췄습니다",
    "worker.signal": "{name}(으)로 프로세스를 끝냈습니다",
    "worker.exit": "프로세스를 끝냈습니다(종료 상태 {code})",
    # 한 번에 한 층 (check layer:...)
    "layer.note.paired": "{label}(을)를 {forward}와 짝지었습니다",
    "layer.note.attributes": "{label}: 기울기를 {attrs}에서 읽었습니다",
    "layer.note.modified": "{label}(이)가 {name}(을)를 제자리에서 바꿨습니다",
    "layer.note.nd": ("{label}(은)는 형태 {shape}의 x(이미지를 받는 affine 층이 펼치는 N차원 입력)를 "
                      "받지 않습니다: 2차원 x로만 판정했습니다"),
    "layer.note.onehot_only": "{label}(은)는 원-핫 목표값을 받습니다(정수 레이블에서는 실패합니다)",
    "layer.note.onehot_loss": ("{label}(은)는 원-핫 목표값을 받습니다(그 손실이 정수 레이블이 아니라 "
                               "원-핫 목표값일 때 정의의 손실과 같습니다)"),
    "layer.note.labels": "{label}(은)는 형태 (N,)의 정수 클래스 레이블 y를 받습니다",
    "layer.note.dropout": "드롭아웃을 순방향 출력에서 읽었습니다(out / x): {how}; 유닛의 {share}(이)가 남았습니다",
    "layer.dropout.unscaled": "배율을 곱하지 않은 0/1 마스크(대신 시험 때 배율을 곱함)",
    "layer.dropout.inverted": "남은 유닛에 {scale}배(역 드롭아웃)",
    "layer.note.eps": "배치 정규화의 ε을 순방향 출력에서 읽었습니다: {eps}",
    "layer.note.loss": ("돌려준 손실은 {got}, 정의에 따른 손실은 {want}입니다(N = {batch}). "
                        "dx는 따로 판정합니다"),
    "layer.error.no_out": "순방향 계산이 out으로 아무것도 돌려주지 않았습니다. x와 같은 형태의 배열이어야 합니다",
    "layer.error.out_shape": "순방향 계산이 out으로 형태 {shape}(을)를 돌려줬습니다. x와 같은 형태의 배열이어야 합니다",
    "layer.error.no_eps": "순방향 출력이 x의 배치 정규화가 아닙니다(맞는 ε이 없습니다)",
    "layer.error.at": "{label}: {why}(N = {batch})",
    "layer.error.failure": "{failure}(N = {batch})",
    "layer.raised": "{label}(이)가 {exception}(을)를 일으켰습니다",
    "layer.missing": "{name}: 돌려주지도 않았고 backward 뒤에 속성으로 남기지도 않았습니다",
    "layer.not_returned": "{name}: 돌려주지 않았습니다",
    "layer.no_cause": "{name}: 간단한 원인을 찾지 못했습니다",
    "layer.no_cause.shape": "{text}: {want}(이)가 있어야 할 자리에 형태 {got}(N = {batch})",
    "layer.no_cause.figures": "{text}; 최대 절대 오차 {abs}, 최대 상대 오차 {rel}",
    "layer.with_worst": "{text}; 가장 큰 오차 {worst}",
    "layer.nan": "{name}에 NaN이나 무한대 값이 있습니다",
    "layer.transposed_square": "{name}(이)가 전치되어 있습니다: {name}.T의 값을 담고 있습니다",
    "layer.not_reshaped": ("dx의 형태를 되돌리지 않았습니다: 펼친 x의 형태 {got}인데, x의 형태 {want}(이)어야 "
                           "합니다(dx.reshape(x.shape)를 돌려주세요)(N = {batch})"),
    "layer.reshaped": "{name}의 값은 맞지만 형태가 {want}(이)어야 할 자리에 {got}입니다(N = {batch})",
    "layer.transposed": "{name}(이)가 전치되어 있습니다: 형태 {got}에 {name}.T를 담고 있으며, {want}(이)어야 합니다",
    "layer.transposed.dw": ("{name}(이)가 전치되어 있습니다: 형태 {got}에 {name}.T를 담고 있으며, {want}(이)어야 "
                            "합니다(행 배치에서 dw = xᵀ dout이며 doutᵀ x가 아닙니다)"),
    "layer.not_summed": ("{name}(을)를 배치에 대해 합하지 않았습니다: {what} 자체이며 형태는 {got}입니다. "
                         "{name}(은)는 {what}(을)를 N개의 표본에 대해 합합니다(축 {axis})"),
    "layer.wrong_axis": ("{name}(을)를 잘못된 축으로 합했습니다: 배치(축 {batch})가 아니라 유닛(축 {units})에 "
                         "대해 합했습니다"),
    "layer.summed_all": "{name}(을)를 배치만이 아니라 모든 원소에 대해 합했습니다(숫자 하나)",
    "layer.factor": "{name}(이)가 {factor}배만큼 다릅니다",
    "layer.factor.n": "N: 배치 크기 N으로 나누지 않았습니다",
    "layer.factor.over_n": "1/N: 배치 크기 N으로 한 번 더 나눴습니다",
    "layer.factor.c": "C: 유닛 수 C로 나누지 않았습니다",
    "layer.factor.over_c": "1/C: 손실이 나누지 않는 유닛 수 C로 나눴습니다",
    "layer.factor.nc": "N·C: 손실이 평균하는 N·C개 원소로 나누지 않았습니다",
    "layer.factor.over_nc": "1/(N·C): N·C개 원소로 한 번 더 나눴습니다",
    "layer.factor.sign": "−1: 부호가 뒤집혔습니다",
    "layer.factor.mean": "1/N: 합이어야 할 자리에 배치 평균을 썼습니다",
    "layer.slip.w": "wᵀ가 있어야 할 자리에 w를 썼습니다(dx = dout wᵀ)",
    "layer.slip.mask_missing": ("마스크(x > 0)가 빠졌습니다: dx가 dout을 그대로 통과시킵니다. 어디서나 참인 "
                                "마스크(out >= 0)와 같습니다"),
    "layer.slip.prime_missing": "f'(x)가 빠졌습니다: dx가 dout을 그대로 통과시킵니다",
    "layer.slip.prime_alone": "f'(x)만 있습니다: dout을 곱하지 않았습니다",
    "layer.slip.at_out": "f'을 입력 x가 아니라 출력 out에서 계산했습니다",
    "layer.slip.r_on_x": "{written}(은)는 출력 r = out으로 쓴 식인데 x에 적용했습니다",
    "layer.slip.r_form": "r로 쓴 f'",
    "layer.slip.dout_mask": "마스크를 입력 x가 아니라 dout(dout > 0)에서 얻었습니다",
    "layer.slip.dropout_none": "dout 자체입니다: 마스크도 배율도 적용하지 않았습니다(dx = dout ⊙ 순방향의 마스크)",
    "layer.slip.dropout_unmasked": "{scale}배는 했지만 마스크를 적용하지 않았습니다: 버린 유닛도 dout을 통과시킵니다",
    "layer.slip.dropout_unscaled": ("마스크는 적용했지만 배율을 곱하지 않았습니다: 순방향이 남은 유닛에 {scale}배를 "
                                    "했으므로 역방향도 그래야 합니다(dx = dout ⊙ mask / (1 − p))"),
    "layer.slip.dropout_twice": "배율을 두 번 곱했습니다: 마스크에 이미 1 / (1 − p)가 들어 있습니다",
    "layer.slip.dropout_extra": ("1 / (1 − p) = {scale}배를 했지만 순방향은 배율을 곱하지 않았습니다"
                                 "(대신 시험 때 곱함)"),
    "layer.slip.bn_gamma": "γ가 빠졌습니다(x̂에서의 기울기는 dout이 아니라 dout ⊙ γ입니다)",
    "layer.slip.bn_naive": ("γ/σ · dout만 있습니다: 배치의 평균과 분산을 거치는 항이 빠졌습니다"
                            "(단순한 dx)"),
    "layer.slip.bn_naive_gamma": "dout/σ만 있습니다: γ와 배치의 평균과 분산을 거치는 항이 빠졌습니다",
    "layer.slip.bn_dgamma_x": "정규화된 x̂ 대신 dout ⊙ x를 합했습니다",
    "layer.slip.bn_dgamma_dbeta": "dbeta의 값, 곧 dout의 합입니다(γ의 기울기는 dout ⊙ x̂의 합입니다)",
    "layer.slip.bn_dbeta_dgamma": "dgamma의 값, 곧 dout ⊙ x̂의 합입니다(β의 기울기는 dout의 합입니다)",
    "layer.slip.scores": "확률 {act}(x)가 있어야 할 자리에 점수 x를 썼습니다",
    "layer.slip.no_targets": "목표값을 빼지 않았습니다(dx = c (p − t))",
    # 가중치 감쇠, L2 벌점, 배치 정규화, 드롭아웃이 있는 망의 check --formula (7절)
    "freg.slip.every_layer": "{slip}; 계층 {others}에서도 같은 실수를 합니다",
    "freg.slip.no_dropout": ("층 {l}의 드롭아웃이 빠졌습니다: 순방향의 R{l} = A{l} ⊙ M{l} / (1 − p)처럼 "
                             "δ에 마스크 M{l}과 1/(1 − p) = {scale}(p = {p})를 곱해야 합니다"),
    "freg.slip.no_mask": ("층 {l}의 드롭아웃 마스크 M{l}이 빠졌습니다: 버린 유닛도 기울기를 통과시킵니다"
                          "(1/(1 − p) = {scale}과 함께 M{l}도 곱하세요)"),
    "freg.slip.no_scale": ("M{l}로 마스크는 했지만 드롭아웃의 1/(1 − p) = {scale}(p = {p})이 빠졌습니다: "
                           "역 드롭아웃은 순방향에서 층 {l}의 남은 유닛에 배율을 곱했으므로 δ에도 곱합니다"),
    "freg.slip.times_q": ("층 {l}의 마스크한 δ에 1 − p = {q}를 곱했지만 역 드롭아웃은 그것으로 나눕니다"
                          "(1/(1 − p) = {scale}, p = {p})"),
    "freg.slip.over_p": ("층 {l}의 마스크한 δ를 p = {p}로 나눴지만 역 드롭아웃은 1 − p로 나눕니다"
                         "(1/(1 − p) = {scale}; p는 유닛을 버릴 확률)"),
    "freg.slip.prime_at_g": ("층 {l}의 {act}'(·)을 배치 정규화의 출력이자 활성화의 입력인 Y{l}이 아니라 "
                             "배치 정규화 전의 G{l}에서 계산했습니다"),
    "freg.slip.prime_of_r": ("층 {l}의 {act}'(·)을 드롭아웃 뒤의 출력 R{l}로 계산했습니다: 활성화 "
                             "자신의 출력 A{l}를 써야 합니다(R{l} = A{l} ⊙ M{l} / (1 − p), p = {p})"),
    "freg.slip.dw_before_dropout": ("층 {l}의 출력 R{l} = A{l} ⊙ M{l} / (1 − p)(p = {p}) 자리에 드롭아웃 전의 "
                                    "활성화 A{l}를 썼습니다: 층 {above}는 버려지고 배율이 곱해진 유닛을 봅니다"),
    "freg.slip.dw_unscaled": ("층 {l}의 출력 R{l} = A{l} ⊙ M{l} / (1 − p) 자리에 드롭아웃의 1/(1 − p) = "
                              "{scale}(p = {p}) 없이 A{l} ⊙ M{l}를 썼습니다"),
    "freg.slip.skips_bn": ("배치 정규화의 출력 Y{l}에서의 기울기 DY{l}입니다: δ{l} = ∂L/∂G{l}는 배치 정규화"
                           "(γ{l}와 배치의 평균, 분산)를 거쳐 이어집니다"),
    "freg.slip.prime_missing": "층 {l}의 활성화 도함수 {act}'(Y{l})(배치 정규화의 출력 Y{l}에서)가 빠졌습니다",
    "freg.slip.no_gamma": ("배치 정규화의 δ{l}에서 γ{l}이 빠졌습니다: Ĝ{l}에서의 기울기는 DY{l}이 아니라 "
                           "DGH{l} = gamma{l} * DY{l}입니다"),
    "freg.slip.naive": ("배치의 평균과 분산을 거치는 항이 없는 배치 정규화의 δ{l}입니다: gamma{l} * DY{l} / "
                        "sqrt(VAR{l} + eps)는 μ{l}과 σ²{l}을 상수로 봅니다; 간결한 꼴은 (1/N) (VAR{l} + "
                        "eps)^(-1/2) (N DGH{l} − 배치에 대해 합한 DGH{l} − GH{l} * 배치에 대해 합한 "
                        "(DGH{l} * GH{l}))입니다"),
    "freg.slip.naive_no_gamma": ("DY{l} / sqrt(VAR{l} + eps)만 있습니다: γ{l}과 배치의 평균과 분산을 거치는 "
                                 "배치 정규화의 항이 빠졌습니다"),
    "freg.slip.nomean": ("배치 정규화의 δ{l}에서 배치 평균 μ{l}을 거치는 항이 빠졌습니다: − 배치에 대해 "
                         "합한 DGH{l}"),
    "freg.slip.novar": ("배치 정규화의 δ{l}에서 배치 분산 σ²{l}을 거치는 항이 빠졌습니다: − GH{l} * 배치에 "
                        "대해 합한 (DGH{l} * GH{l})"),
    "freg.slip.dgamma_is_dbeta": ("dbeta{l}의 값, 곧 배치에 대해 합한 DY{l}입니다: dgamma{l}은 "
                                  "DY{l} * GH{l}을 합합니다"),
    "freg.slip.dbeta_is_dgamma": ("dgamma{l}의 값, 곧 배치에 대해 합한 DY{l} * GH{l}입니다: dbeta{l}은 "
                                  "DY{l}을 합합니다"),
    "freg.slip.dgamma_on_g": "정규화한 GH{l} 대신 정규화 전의 입력 G{l}로 DY{l} * G{l}을 합했습니다",
    "freg.slip.bias_of_bn": ("배치에 대해 합한 DY{l}(dbeta{l}의 값)이지만 배치 정규화 층의 B{l}에는 기울기가 "
                             "없습니다: 배치 평균이 그것을 다시 빼므로 dB{l} = 0입니다"),
    "freg.eps": ("{name}(층 {layer})은 ε = {got}로 정규화하지만 네트워크의 배치 정규화는 ε = {eps}입니다: "
                 "{sym}(또는 {eps})를 쓰거나, bn@{got}인 네트워크에서 검사하세요"),
    "freg.pen.is_weight_decay": "가중치 감쇠 {spelled}(L += (λ/2) Σ‖W‖², 그래서 dW에 λ W가 더해짐)",
    "freg.pen.is_l2": "L2 벌점 {spelled}(L += λ Σ‖W‖², 그래서 dW에 2λ W가 더해짐)",
    "freg.pen.none": "망에 가중치 벌점이 없습니다",
    "freg.pen.missing": ("{name}(층 {layer})에 벌점 항 {right:.6g}·{param}이 빠졌습니다: 망의 손실에 "
                         "{penalty}이(가) 있습니다"),
    "freg.pen.as_l2": ("{name}(층 {layer})에 {c:.6g}·{param}, 곧 2λ·{param}을 더했습니다: L2 벌점"
                       "({other}, L += λ Σ‖W‖²)의 항입니다; 망에는 {penalty}이(가) 있고 그 항은 "
                       "{right:.6g}·{param}입니다(λ = {lam})"),
    "freg.pen.as_weight_decay": ("{name}(층 {layer})에 {c:.6g}·{param}, 곧 λ·{param}을 더했습니다: "
                                 "가중치 감쇠({other}, L += (λ/2) Σ‖W‖²)의 항입니다; 망에는 {penalty}이(가) "
                                 "있고 그 항은 {right:.6g}·{param}입니다(λ = {lam})"),
    "freg.pen.other": ("{name}(층 {layer})에 {c:.6g}·{param}을 더했지만 벌점 항은 {right:.6g}·{param}"
                       "입니다: 망에는 {penalty}이(가) 있습니다"),
    "freg.pen.on_param": "{name}(층 {layer})에 {c:.6g}·{param}이 더해졌습니다: {what}({penalty})",
    "freg.pen.what.bias": "편향에 준 벌점입니다; 가중치 감쇠와 L2 벌점은 가중치 W에만 적용됩니다",
    "freg.pen.what.bn": ("배치 정규화의 γ나 β에 준 벌점입니다; 가중치 감쇠와 L2 벌점은 가중치 W에만 "
                         "적용됩니다"),
    "freg.red.units": ("{name}(층 {layer})은 {what}을 배치(축 {batch_axis})가 아니라 유닛(축 "
                       "{unit_axis})에 대해 합한 값입니다: 받은 형태 {shape}"),
    "freg.red.mean_units": ("{name}(층 {layer})은 {what}을 배치(축 {batch_axis})에 대해 합하지 않고 "
                            "유닛(축 {unit_axis})에 대해 평균한 값입니다: 받은 형태 {shape}"),
    "freg.red.all": ("{name}(층 {layer})은 {what}을 배치(축 {batch_axis})만이 아니라 모든 원소에 대해 "
                     "합한 값(수 하나)입니다"),
    "freg.red.none": ("{name}(층 {layer})을 배치에 대해 줄이지 않았습니다: {what} 그 자체이고 형태는 "
                      "{shape}입니다; 축 {batch_axis}에 대해 합하세요"),
    "freg.red.mean_shape": ("{name}(층 {layer})은 {what}을 배치(축 {batch_axis})에 대해 합해야 할 자리에 "
                            "평균한 값이고 형태는 {shape}입니다"),
}
