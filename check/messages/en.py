"""English: every sentence of check's reports, as it has always been printed (the reference)."""

MESSAGES = {
    # joining sentences and lists
    "or": "{a} or {b}",
    "and": "{a} and {b}",
    # where a gradient's wrong entries lie
    "confined": "the error is confined to {where} of {name}",
    "confined.entries": "entries {runs}",
    "confined.rows": "rows {runs}",
    "confined.columns": "columns {runs}",
    "confined.count": "{count} of its {size} entries are wrong",
    # slips in the activation derivatives (the variants of the chain)
    "slip.missing": "leaves out the activation derivative {act}'(G{l}) of layer {l}",
    "slip.onR": "computes layer {l}'s {act}'(·) at R{l} instead of G{l}",
    "slip.outG": ("uses G{l} where layer {l}'s {act}' formula needs the output R{l} "
                  "(f' written in terms of r = f(z))"),
    "slip.at": "computes layer {l}'s {act}'(·) at G{j} instead of G{l} ({index})",
    "slip.other": "uses {other}'s derivative where layer {l}'s {act}' belongs",
    "slip.other_on_G": ("uses {other}'s derivative formula {form} on G{l} (the pre-activation) "
                        "where layer {l}'s {act}' belongs"),
    "slip.extra": ("multiplies δ{L} by {factor}, which the fused {act} + {loss} delta (P - T) "
                   "already accounts for"),
    "extra.diagonal": "P ⊙ (1 - P) ({act}'s diagonal)",
    "index.off_by_one": "a layer index off by one",
    "index.wrong": "a wrong layer index",
    # named factors
    "factor.over_n.mean": ("1/N (divided by the batch size once too often: the loss's mean over "
                           "the batch is already in δ; averaged where it should sum)"),
    "factor.times_n.mean": "N (summed over the batch where the loss averages: a missing 1/N)",
    "factor.over_n.sum": ("1/N (divided by the batch size, but the loss is a sum over the batch "
                          "with no 1/N; averaged where it should sum)"),
    "factor.times_n.sum": "N (multiplied by the batch size, which the summed loss does not have)",
    "factor.over_n_out.mean": "1/n_L = 1/{n} (divided by the output width once too often)",
    "factor.times_n_out.mean": "n_L = {n} (a missing 1/n_L of the mean over the output units)",
    "factor.over_n_out.sum": ("1/n_L = 1/{n} (divided by the output width, which the loss does "
                              "not average over)"),
    "factor.times_n_out.sum": "n_L = {n} (multiplied by the output width)",
    "factor.twice": "2 (twice the right value)",
    "factor.half": "1/2 (half the right value)",
    "factor.sign": "-1 (the sign is flipped)",
    "factor.times_all": "N n_L (the mean over all N n_L elements is missing)",
    "factor.zero": "0 (it is all zeros)",
    # one gradient's diagnosis
    "diag.nan": "{name} (layer {layer}) contains NaN or infinite values",
    "diag.transposed": "{name} is transposed (layer {layer}): it holds the values of {name}.T",
    "diag.factor": "{name} (layer {layer}) is off by a factor of {text}",
    "diag.slip": "{name}: {slip}",
    "diag.slip_above": ("{name} is wrong only because the error starts in layer {origin}, which "
                        "{slip}, and propagates down to layer {layer}"),
    "diag.transposed_shape": "{name} is transposed (layer {layer}): shape {got} where {want} belongs",
    "diag.reshaped": ("{name} (layer {layer}) has the right values in another shape: {got} "
                      "instead of {want}"),
    "clause.factor": "is off by a factor of {text}",
    "clause.slip_above": ("is wrong only because the error starts in layer {origin}, which {slip}, "
                          "and propagates down to layer {layer}"),
    "clause.reduced": "is {text}: got shape {shape}",
    "clause.transposed": "is transposed (layer {layer}): it holds the values of {name}.T",
    "wl.pairs": "pairs δ{layer} with {r} instead of {prev}, the input of layer {layer} ({index})",
    "wl.delta": "uses δ{j} where δ{layer} belongs ({index})",
    "upd.param": "{name} (layer {layer}) is the parameter {param} itself, not its gradient",
    "upd.step": "{name} (layer {layer}) is an updated parameter {param} - {lr:.3g} * {name}, not the gradient",
    # bias gradients reduced over the wrong axis
    "red.result": "dB{layer} is {text}: got shape {shape}",
    "red.sum_units": ("summed over the units of layer {layer} instead of over the batch "
                      "(dB{layer} needs one entry per unit, {n} of them)"),
    "red.mean_units": "averaged over the units of layer {layer} instead of summed over the batch",
    "red.sum_all": ("collapsed to a scalar: δ{layer} summed over both the batch and the units of "
                    "layer {layer}"),
    "red.mean_all": "collapsed to a scalar: the mean of δ{layer} over everything (layer {layer})",
    "red.mean_batch": "averaged over the batch instead of summed (layer {layer}; {why}), in the wrong shape",
    "red.why.mean": "the loss's 1/N is already in δ{layer}",
    "red.why.sum": "the loss is a sum over the batch, with no 1/N",
    "red.none": "not reduced over the batch: it is δ{layer} itself (layer {layer})",
    # two slips at once
    "two.undone": "{name} (layer {layer}) has two slips: {first}; undoing it, {name} {rest}",
    "two.it_factor": "{name} (layer {layer}) has two slips: it {rest}; and it is off by a factor of {factor}",
    "two.it_and": "{name} (layer {layer}) has two slips: it {rest}; and {where}",
    "two.factor": "{name} (layer {layer}) has two slips: it is off by a factor of {factor}; and {where}",
    "two.layers": ("{name} (layer {layer}) has two slips: the error starts in layer {origin}, which "
                   "{upper}, and propagates down; and layer {l} {slip} as well"),
    "where.own": "it {slip}",
    "where.above": "the error starts in layer {origin}, which {slip}, and propagates down",
    "undo.not_reduced": "it is not reduced over the batch (shape {got} where {want} belongs)",
    "undo.transposed_shape": "it is transposed (shape {got} where {want} belongs)",
    "undo.reshaped": "it is in another shape ({got} instead of {want})",
    "undo.transposed": "it is transposed",
    # the report
    "cat": "{a}{b}",
    "table.title": "check {subject} on {net} (batch sizes {batches})",
    "table.param": "param",
    "table.verdict": "verdict",
    "table.abs": "max abs err",
    "table.rel": "max rel err",
    "table.expected": "expected",
    "table.got": "got",
    "table.diagnosis": "diagnosis",
    "table.ok": "ok",
    "table.wrong": "WRONG",
    "table.note": "  note: {note}",
    "markdown.title": "**check** `{subject}` on `{net}`: {summary}",
    "summary.failed": "FAILED: {error}",
    "summary.none": "FAILED: no gradients returned",
    "summary.right": "all right",
    "summary.wrong": "WRONG: {names}",
    # notes of judge
    "note.capped": ("checked on capped widths {small} ({small_count} parameters) instead of {sizes} "
                    "({count} parameters), to bound memory; the derivation is the same for every width"),
    "error.masks_hidden": ("{name} draws its own dropout masks ({masks}) and neither keeps them where the checker can read them (a dropout layer object's `mask`) nor takes them as an argument (`masks`, `mask`): check its dropout layer {layer} on its own with `{command}`"),
    "note.dropout_test_scaled": ("{name} multiplies by the dropout mask alone in training (dropout scaled at test time by 1 - p, as the book's Dropout; p = {p}): judged with that convention, the same gradients as inverted dropout's mask / (1 - p) with the mask scaled by 1 - p"),
    "eps.convention": "right for batch norm with ε = {eps} (the network has ε = {ours}): check it as {spelled}",
    "eps.diag": "{name}: {text}",
    "note.eps": "{name} normalizes with another ε: {text}",
    "note.masks_read": "{name} draws its own dropout masks: {masks} read back from its dropout layers' `mask` after each call, and the gradients judged with them",
    "note.setting": "{name}: {setting} left at its default; it changes the loss (a penalty on the weights)",
    "note.modified_data": "{name} modified {label} in place",
    "note.one_sample": ("{label} takes one sample: for a batch (N = {batch}) {why}, for one sample "
                        "({one}) {shapes}, so it is called once per sample and the results {combined}"),
    "sample.reason.sums": ("its weight gradients are its per-sample results added up (where the "
                           "loss needs their mean)"),
    "sample.reason.names": "it names its data for one sample ({names})",
    "sample.averaged": "averaged (the loss is a mean over the batch)",
    "sample.summed": "summed",
    "sample.batch_of_one": "a batch of one",
    "sample.vectors": "plain vectors",
    "sample.shapes_right": "every shape is right",
    "sample.runs": "it runs",
    "sample.raised": "it raised {kind}",
    "sample.shape": "it returned d{key} of shape {shape}",
    "note.other_loss": ("every gradient is right for {losses}: your code computes its δ{L}, not "
                        "{loss}'s (check it as {spelled} if that is your loss)"),
    "hint.other_loss": "; right for {losses} (check it as {spelled})",
    "note.convention": "every gradient is off by the same factor {text}: {conclusion}",
    "convention.matches": "a loss convention: your code matches {losses}, not {loss} (check it as {spelled})",
    "convention.scaled": ("it comes from δ{L}, the loss's derivative: a loss convention (your loss "
                          "is scaled differently from {loss}) rather than a slip in the backward pass"),
    "convention.diag": "d{name} (layer {layer}) is off by a factor of {text}, the same in every layer: {conclusion}",
    # hints where a flag is the fix
    "hint.labels": "with integer class labels for T (shape (N,)) it runs: check it with --targets labels",
    "hint.layout": "in the {layout} layout it runs: check it as {spelled}",
    "hint.flag": "; {hint}",
    "hint.flag.right": "; {hint} (and every gradient is right there)",
    "hint.batch_one": ("; it is right for a batch of one, so the code is probably written for a "
                       "single sample: check it with --batch 1"),
    "hint.runs_for_one": ("; it runs for a batch of one, so it is probably written for a single "
                          "sample: check it with --batch 1"),
    "hint.fails_for_one": "; it fails for a batch of one too",
    # failures and verdicts of judge
    "error.no_gradients": "{name} returned no gradients",
    "error.raised": "{name} raised {exception} when called with {shapes} (N = {batch})",
    "modified.updated": ("{name} updated params['{key}'] in place; a backward pass must return "
                         "gradients and leave the parameters alone"),
    "modified.returned": ("{name} updated params['{key}'] in place and returned it as its gradient; "
                          "a backward pass must return gradients and leave the parameters alone"),
    "modified.replaced": ("{name} replaced params['{key}'] in the caller's dict; a backward pass "
                          "must return gradients and leave the parameters alone"),
    "diag.not_a_param": "'{key}' is not a parameter of the network: key gradients like the params ({known})",
    "diag.missing_at": "returned at N = {first} but not at N = {batch}",
    "diag.not_numbers": "{key}: not an array of numbers",
    "diag.note_right": "{note} (the returned gradient itself is right)",
    "diag.note_also": "{note}; also: {diagnosis}",
    "nocause": "{name} (layer {layer}): {figures}",
    "nocause.what": "no simple cause found{figs}",
    "figs.errors": ": max abs error {abs:.3g}, max rel error {rel:.3g}",
    "figs.shape": ": shape {got} where {want} belongs (N = {batch})",
    "figs.worst": "; worst {worst}",
    "figs.where": "; {where}",
    "worst": "{name}[{where}]: got {got:.6g}, expected {want:.6g} (N = {batch})",
    # L2 penalties
    "penalty.added": "d{key} has {c:.6g}·{key} added and the biases nothing: {cause}",
    "penalty.besides": "{added}; besides, {text}",
    "penalty.l2": ("an L2 penalty {l2:.6g}·ΣW² ({name} = {value:g}) in the code's loss, which "
                   "{loss} has not (the loss {loss}+l2@{l2:.6g} has it)"),
    "penalty.wd": ("weight decay {wd:.6g}, a penalty ({wd:.6g}/2)·ΣW² ({name} = {value:g}) in the "
                   "code's loss, which {loss} has not (the loss {loss}+wd@{wd:.6g} has it)"),
    "penalty.either": ("an L2 penalty {l2:.6g}·ΣW² or weight decay {wd:.6g} (({wd:.6g}/2)·ΣW²) in "
                       "the code's loss, which {loss} has not (the losses {loss}+l2@{l2:.6g} and "
                       "{loss}+wd@{wd:.6g} have it)"),
    # where an error starts
    "prop.own_text": ("d{right} of the same layer is right, so δ{l} is right and the error is in "
                      "d{name}'s own step from δ{l}, not in the layers above"),
    "prop.own": "d{name} (layer {l}) has an error of its own: {own} ({figures})",
    "prop.same_factor": "; the same factor as layer {top}, so the error starts in layer {top} (δ{top}) and propagates down",
    "prop.two": ("d{name} (layer {l}) has two slips: the error starts in layer {top} above it and "
                 "propagates down, and its own step from the δ{up} the code used {slip} ({figures})"),
    "prop.not_follow": "d{name} (layer {l}) has an error of its own: it does not follow from the δ{up} the code used ({figures})",
    "prop.inherited": ("d{name} (layer {l}) is wrong only because the error starts in layer {origin} "
                       "and propagates down: its own step from δ{up} is right ({figures})"),
    "prop.likely": ("d{name} (layer {l}) is wrong, and so is layer {top} above it: the error most "
                    "likely starts in layer {top}, the top-most wrong layer, and propagates down to "
                    "layer {l} ({figures})"),
    # formulas
    "formula.shapes": "the shapes do not conform: {exc} (N = {batch})",
    "formula.eval": "it cannot be evaluated: {exc}",
    "formula.diag": "{lhs} (layer {layer}): {why}",
    "formula.numeric_only": "judged numerically only: exact judgement is for widths up to {width}",
    "formula.exact_failed": "judged numerically only: the exact evaluation failed ({exc})",
    "formula.not_exact": "{lhs} (layer {layer}) agrees numerically but not exactly: {mismatch}",
    "formula.exact": "{lhs} is also exactly equal to the derivation's (exact point, N = 2)",
    # how FUNC was called (conventions)
    "conv.the_object": "the {cls} object",
    "conv.pair": "{label} gets the data as one pair (X, T) in '{name}'",
    "conv.passed": "{label} gets {settings} (the network's settings, by the names its code uses)",
    "conv.by_name": "{label} gets {names} by name",
    "conv.built": "{how} built; parameters set in {where}",
    "conv.used": "{how} used; parameters set in {where}",
    "conv.square": "{names} is square: taken as stored transposed like the other weights",
    "conv.squares": "{names} are square: taken as stored transposed like the other weights",
    "conv.transposed": ("{key} is stored transposed, {stored} where the {layout} layout has {want}: "
                        "its gradient is judged transposed back"),
    "conv.read": "{label} read {keys} (given the network's {names})",
    "conv.changed": ("{label} changed {where} during the call (a parameter update inside it?): the "
                     "parameters are set again before every call, and its gradients are judged as returned"),
    "conv.loss_grads": "{label} returned (loss, gradients): the loss is not judged",
    "conv.key_as": "{key} as {name}",
    "conv.keys_read": "keys read as the network's: {renamed}",
    "conv.not_gradients": ("{label} returned {type}, not gradients (a dict, a tuple or list of "
                           "arrays, or (loss, grads))"),
    "conv.what.arrays": "a {kind} of {n} arrays",
    "conv.what.lists": "a {kind} of {lists} lists ({n} arrays)",
    "conv.number_first": "{label} returned a number first: taken as the loss, not judged",
    "conv.untold": ("{label} returned {what}; the network has {count} parameters ({names}), so "
                    "they cannot be told apart (return a dict keyed like them)"),
    "conv.sequence": "{label} returned {what}, read by shape and order as ({order}){direction}",
    "conv.last_first": " (last layer first)",
    # the worker
    "worker.failed": "{label} {why} (N = {batch})",
    "worker.instead": "{why} instead of returning",
    "worker.timeout": "did not finish within the time limit of {timeout:g} s (--timeout), so it was stopped",
    "worker.signal": "ended its process with {name}",
    "worker.exit": "ended its process (exit status {code})",
    # one layer at a time (check layer:...)
    "layer.note.paired": "{label} paired with {forward}",
    "layer.note.attributes": "{label}: gradients read from {attrs}",
    "layer.note.modified": "{label} modified {name} in place",
    "layer.note.nd": ("{label} does not take x of shape {shape} (N-D, flattened by affine layers "
                      "that take images): judged on 2-D x"),
    "layer.note.onehot_only": "{label} takes one-hot targets (it fails on integer labels)",
    "layer.note.onehot_loss": ("{label} takes one-hot targets (its loss is the definition's with "
                               "one-hot targets, not with integer labels)"),
    "layer.note.labels": "{label} takes integer class labels y of shape (N,)",
    "layer.note.dropout": "dropout read from the forward's output (out / x): {how}; {share} of the units kept",
    "layer.dropout.unscaled": "a 0/1 mask, unscaled (scaled at test time instead)",
    "layer.dropout.inverted": "the kept units scaled by {scale} (inverted dropout)",
    "layer.note.eps": "batch norm's ε read from the forward's output: {eps}",
    "layer.note.loss": ("the loss it returned is {got}, the definition gives {want} (N = {batch}); "
                        "dx is judged apart"),
    "layer.error.no_out": "its forward returned nothing as out, not an array shaped like x",
    "layer.error.out_shape": "its forward returned shape {shape} as out, not an array shaped like x",
    "layer.error.no_eps": "its forward's output is not a batch norm of x (no ε fits it)",
    "layer.error.at": "{label}: {why} (N = {batch})",
    "layer.error.failure": "{failure} (N = {batch})",
    "layer.raised": "{label} raised {exception}",
    "layer.missing": "{name}: not returned and not kept as an attribute after backward",
    "layer.not_returned": "{name}: not returned",
    "layer.no_cause": "{name}: no simple cause found",
    "layer.no_cause.shape": "{text}: shape {got} where {want} belongs (N = {batch})",
    "layer.no_cause.figures": "{text}; max abs error {abs}, max rel error {rel}",
    "layer.with_worst": "{text}; worst {worst}",
    "layer.nan": "{name} contains NaN or infinite values",
    "layer.transposed_square": "{name} is transposed: it holds the values of {name}.T",
    "layer.not_reshaped": ("dx is not reshaped: it has shape {got}, the flattened x, where x's shape "
                           "{want} belongs (return dx.reshape(x.shape)) (N = {batch})"),
    "layer.reshaped": "{name} has the right values in shape {got} where {want} belongs (N = {batch})",
    "layer.transposed": "{name} is transposed: it has shape {got} and holds {name}.T, where {want} belongs",
    "layer.transposed.dw": ("{name} is transposed: it has shape {got} and holds {name}.T, where "
                            "{want} belongs (dw = xᵀ dout in the row layout, not doutᵀ x)"),
    "layer.not_summed": ("{name} is not summed over the batch: it is {what} itself, shape {got}; "
                         "{name} sums {what} over the N samples (axis {axis})"),
    "layer.wrong_axis": ("{name} is summed over the wrong axis: over the units (axis {units}), not "
                         "over the batch (axis {batch})"),
    "layer.summed_all": "{name} is summed over every entry (one number), not over the batch only",
    "layer.factor": "{name} is off by a factor of {factor}",
    "layer.factor.n": "N: it is not divided by the batch size N",
    "layer.factor.over_n": "1/N: it is divided by the batch size N once too often",
    "layer.factor.c": "C: it is not divided by the number of units C",
    "layer.factor.over_c": "1/C: it is divided by the number of units C, which the loss does not",
    "layer.factor.nc": "N·C: it is not divided by the N·C entries the loss averages over",
    "layer.factor.over_nc": "1/(N·C): it is divided by the N·C entries once too often",
    "layer.factor.sign": "−1: its sign is flipped",
    "layer.factor.mean": "1/N: it is the mean over the batch, where the sum belongs",
    "layer.slip.w": "it uses w where wᵀ belongs (dx = dout wᵀ)",
    "layer.slip.mask_missing": ("the mask (x > 0) is missing: dx is dout passed through, as with a "
                                "mask that holds everywhere (out >= 0)"),
    "layer.slip.prime_missing": "f'(x) is missing: dx is dout passed through",
    "layer.slip.prime_alone": "it is f'(x) alone: not multiplied by dout",
    "layer.slip.at_out": "f' is evaluated at the output out instead of the input x",
    "layer.slip.r_on_x": "{written} is written in terms of the output r = out but applied to x",
    "layer.slip.r_form": "f' in terms of r",
    "layer.slip.dout_mask": "the mask is taken from dout (dout > 0) instead of from the input x",
    "layer.slip.dropout_none": "it is dout itself: neither masked nor scaled (dx = dout ⊙ the forward's mask)",
    "layer.slip.dropout_unmasked": "it is scaled by {scale} but not masked: the dropped units pass dout",
    "layer.slip.dropout_unscaled": ("it is masked but not scaled: the forward scaled the kept units by "
                                    "{scale}, so the backward must too (dx = dout ⊙ mask / (1 − p))"),
    "layer.slip.dropout_twice": "it is scaled twice: the mask already holds 1 / (1 − p)",
    "layer.slip.dropout_extra": ("it is scaled by 1 / (1 − p) = {scale}, but the forward did not scale "
                                 "(it scales at test time instead)"),
    "layer.slip.bn_gamma": "it is missing γ (the gradient at x̂ is dout ⊙ γ, not dout)",
    "layer.slip.bn_naive": ("it is γ/σ · dout alone: the terms through the batch's mean and variance "
                            "are missing (the naive dx)"),
    "layer.slip.bn_naive_gamma": ("it is dout/σ alone: γ and the terms through the batch's mean and "
                                  "variance are missing"),
    "layer.slip.bn_dgamma_x": "it sums dout ⊙ x, where the normalised x̂ belongs",
    "layer.slip.bn_dgamma_dbeta": "it is dbeta's value, the sum of dout (γ's gradient sums dout ⊙ x̂)",
    "layer.slip.bn_dbeta_dgamma": "it is dgamma's value, the sum of dout ⊙ x̂ (β's gradient sums dout)",
    "layer.slip.scores": "it uses the scores x where the probabilities {act}(x) belong",
    "layer.slip.no_targets": "the targets are not subtracted (dx = c (p − t))",
    # check --formula on networks with weight decay, an L2 penalty, batch norm, dropout (section 7)
    "freg.slip.every_layer": "{slip}; and makes the same slip in layer {others}",
    "freg.slip.no_dropout": ("leaves out dropout of layer {l}: δ is multiplied by the mask M{l} and "
                             "by 1/(1 − p) = {scale} (p = {p}), as the forward pass's R{l} = A{l} ⊙ "
                             "M{l} / (1 − p)"),
    "freg.slip.no_mask": ("leaves out the dropout mask M{l} of layer {l}: the dropped units pass the "
                          "gradient (multiply by M{l} as well as by 1/(1 − p) = {scale})"),
    "freg.slip.no_scale": ("masks with M{l} but leaves out dropout's 1/(1 − p) = {scale} (p = {p}): "
                           "inverted dropout scaled the kept units of layer {l} in the forward pass, "
                           "so δ is scaled too"),
    "freg.slip.times_q": ("multiplies layer {l}'s masked δ by 1 − p = {q} where inverted dropout "
                          "divides by it (1/(1 − p) = {scale}, p = {p})"),
    "freg.slip.over_p": ("divides layer {l}'s masked δ by p = {p} where inverted dropout divides by "
                         "1 − p (1/(1 − p) = {scale}; p is the probability of dropping a unit)"),
    "freg.slip.prime_at_g": ("computes layer {l}'s {act}'(·) at G{l}, before batch norm, instead of "
                             "at Y{l}, batch norm's output and the activation's input"),
    "freg.slip.prime_of_r": ("computes layer {l}'s {act}'(·) from R{l}, the output after dropout, "
                             "where the activation's own output A{l} belongs (R{l} = A{l} ⊙ M{l} / "
                             "(1 − p), p = {p})"),
    "freg.slip.dw_before_dropout": ("uses A{l}, layer {l}'s activation before dropout, where its output "
                                    "R{l} = A{l} ⊙ M{l} / (1 − p) belongs (p = {p}): layer {above} "
                                    "sees the dropped, rescaled units"),
    "freg.slip.dw_unscaled": ("uses A{l} ⊙ M{l} without dropout's 1/(1 − p) = {scale} (p = {p}) where "
                              "layer {l}'s output R{l} = A{l} ⊙ M{l} / (1 − p) belongs"),
    "freg.slip.skips_bn": ("is DY{l}, the gradient at batch norm's output Y{l}: δ{l} = ∂L/∂G{l} goes on "
                           "through batch norm (γ{l} and the batch's mean and variance)"),
    "freg.slip.prime_missing": ("leaves out the activation derivative {act}'(Y{l}) of layer {l} "
                                "(at batch norm's output Y{l})"),
    "freg.slip.no_gamma": ("leaves γ{l} out of batch norm's δ{l}: the gradient at Ĝ{l} is "
                           "DGH{l} = gamma{l} * DY{l}, not DY{l}"),
    "freg.slip.naive": ("is batch norm's δ{l} without the terms through the batch's mean and "
                        "variance: gamma{l} * DY{l} / sqrt(VAR{l} + eps) treats μ{l} and σ²{l} as "
                        "constants; the compact form is (1/N) (VAR{l} + eps)^(-1/2) (N DGH{l} − "
                        "DGH{l} summed over the batch − GH{l} * (DGH{l} * GH{l}) summed over the batch)"),
    "freg.slip.naive_no_gamma": ("is DY{l} / sqrt(VAR{l} + eps) alone: γ{l} and batch norm's terms "
                                 "through the batch's mean and variance are left out"),
    "freg.slip.nomean": ("leaves out the term through the batch mean μ{l} in batch norm's δ{l}: "
                         "− DGH{l} summed over the batch"),
    "freg.slip.novar": ("leaves out the term through the batch variance σ²{l} in batch norm's δ{l}: "
                        "− GH{l} * (DGH{l} * GH{l}) summed over the batch"),
    "freg.slip.dgamma_is_dbeta": ("is dbeta{l}'s value, DY{l} summed over the batch: dgamma{l} sums "
                                  "DY{l} * GH{l}"),
    "freg.slip.dbeta_is_dgamma": ("is dgamma{l}'s value, DY{l} * GH{l} summed over the batch: "
                                  "dbeta{l} sums DY{l}"),
    "freg.slip.dgamma_on_g": ("sums DY{l} * G{l}, the input before normalizing, where the "
                              "normalized GH{l} belongs"),
    "freg.slip.bias_of_bn": ("is DY{l} summed over the batch (dbeta{l}'s value), but B{l} of a "
                             "batch-norm layer has no gradient: the batch mean takes it away "
                             "again, so dB{l} = 0"),
    "freg.eps": ("{name} (layer {layer}) normalizes with ε = {got} where the network's batch norm "
                 "has ε = {eps}: write {sym} (or {eps}), or check it on the network with bn@{got}"),
    "freg.pen.is_weight_decay": "weight decay {spelled} (L += (λ/2) Σ‖W‖², so dW gains λ W)",
    "freg.pen.is_l2": "an L2 penalty {spelled} (L += λ Σ‖W‖², so dW gains 2λ W)",
    "freg.pen.none": "the network has no penalty on the weights",
    "freg.pen.missing": ("{name} (layer {layer}) leaves out the penalty's term {right:.6g}·{param}: "
                         "the network's loss has {penalty}"),
    "freg.pen.as_l2": ("{name} (layer {layer}) adds {c:.6g}·{param}, 2λ·{param}: the term of an L2 "
                       "penalty ({other}, L += λ Σ‖W‖²); the network has {penalty}, whose term is "
                       "{right:.6g}·{param} (λ = {lam})"),
    "freg.pen.as_weight_decay": ("{name} (layer {layer}) adds {c:.6g}·{param}, λ·{param}: the term "
                                 "of weight decay ({other}, L += (λ/2) Σ‖W‖²); the network has "
                                 "{penalty}, whose term is {right:.6g}·{param} (λ = {lam})"),
    "freg.pen.other": ("{name} (layer {layer}) adds {c:.6g}·{param} where the penalty's term is "
                       "{right:.6g}·{param}: the network has {penalty}"),
    "freg.pen.on_param": "{name} (layer {layer}) has {c:.6g}·{param} added: {what} ({penalty})",
    "freg.pen.what.bias": ("a penalty on a bias; weight decay and the L2 penalty apply to the "
                           "weights W only"),
    "freg.pen.what.bn": ("a penalty on batch norm's γ or β; weight decay and the L2 penalty apply "
                         "to the weights W only"),
    "freg.red.units": ("{name} (layer {layer}) is {what} summed over the units (axis {unit_axis}) "
                       "instead of over the batch (axis {batch_axis}): got shape {shape}"),
    "freg.red.mean_units": ("{name} (layer {layer}) is {what} averaged over the units (axis "
                            "{unit_axis}) instead of summed over the batch (axis {batch_axis}): got "
                            "shape {shape}"),
    "freg.red.all": ("{name} (layer {layer}) is {what} summed over every entry (one number) "
                     "instead of over the batch only (axis {batch_axis})"),
    "freg.red.none": ("{name} (layer {layer}) is not reduced over the batch: it is {what} itself, "
                      "shape {shape}; sum it over axis {batch_axis}"),
    "freg.red.mean_shape": ("{name} (layer {layer}) is {what} averaged over the batch (axis "
                            "{batch_axis}) where it is summed, in shape {shape}"),
}
