import NodeBench
import NodeTraining

extension JSONLine {
  /// An evaluation's fields: `accuracy` (a fraction), `nll` or `kl` (nats)
  /// with `metricDigits` decimals, then `nfe_mean`, `nfe_max`, `samples`,
  /// `rtol`, `atol`.
  mutating func add(evaluation metrics: EvaluationMetrics, metricDigits: Int) {
    if let accuracy = metrics.accuracy { add("accuracy", accuracy, digits: metricDigits) }
    if let nll = metrics.nll { add("nll", nll, digits: metricDigits) }
    if let kl = metrics.kl { add("kl", kl, digits: metricDigits) }
    add("nfe_mean", metrics.nfeMean, digits: 3)
    add("nfe_max", metrics.nfeMax)
    add("samples", metrics.samples)
    add("rtol", metrics.rtol, digits: 10)
    add("atol", metrics.atol, digits: 10)
  }
}
