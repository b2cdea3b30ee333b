import Foundation

/// One training step's metrics, aggregated over every rank (one JSON line
/// of the run's `metrics.jsonl`, `"kind": "train"`).
public struct StepMetrics: Sendable, Codable, Equatable {
  public var kind = "train"
  /// The step (from 1 after the update) and its epoch (from 0).
  public var step: Int
  public var epoch: Int
  /// The mean training loss over the global batch.
  public var loss: Double
  /// Classifiers: the fraction of the batch classified correctly.
  public var accuracy: Double?
  /// Densities: mean negative log-likelihood (nats) and bits per dimension.
  public var nll: Double?
  public var bitsPerDim: Double?
  /// Density matching: the mean `log q − log p̃` in nats.
  public var kl: Double?
  /// Function evaluations per sample, forward and backward: mean and max.
  public var nfeForwardMean: Double
  public var nfeForwardMax: Double
  public var nfeBackwardMean: Double
  public var nfeBackwardMax: Double
  /// Rejected steps over the batch's solves.
  public var rejectedSteps: Double
  /// The learning rate and the forward and adjoint `rtol` used.
  public var learningRate: Double
  public var rtolForward: Double
  public var rtolAdjoint: Double
  /// The gradient norm before clipping.
  public var gradientNorm: Double
  /// Wall seconds of the step on rank 0; the slowest rank's compute; rank
  /// 0's time in collectives beyond waiting; the wait for the slowest rank
  /// averaged over all ranks, the slowest included (the load imbalance of
  /// per-sample adaptive solves).
  public var stepSeconds: Double
  public var computeSecondsMax: Double
  public var communicationSeconds: Double
  public var waitSeconds: Double
  /// True when the step was skipped (no update).
  public var skipped: Bool
  /// Why, and the global index of a sample involved.
  public var skipReason: String?
  public var skipSample: Int?
}

/// A held-out evaluation, aggregated over every rank (`"kind": "eval"`).
public struct EvaluationMetrics: Sendable, Codable, Equatable {
  public var kind = "eval"
  /// The step the parameters come from.
  public var step: Int
  /// Samples evaluated (each exactly once).
  public var samples: Int
  /// Mean loss: cross-entropy, or negative log-likelihood in nats.
  public var loss: Double
  /// Classifiers: fraction correct.
  public var accuracy: Double?
  /// Densities: mean NLL in nats and bits per dimension.
  public var nll: Double?
  public var bitsPerDim: Double?
  /// Density matching: the mean `log q − log p̃` in nats.
  public var kl: Double?
  /// NFE per sample: mean and max.
  public var nfeMean: Double
  public var nfeMax: Int
  /// The evaluation tolerance.
  public var rtol: Double
  public var atol: Double
  /// Wall seconds.
  public var seconds: Double
}

/// Encodes metrics as one JSON line with snake_case keys.
enum MetricsJSON {
  /// The `"step"` of a metrics line, if it has one.
  static func step(of line: Substring) -> Int? {
    guard let data = line.data(using: .utf8),
      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    else { return nil }
    return object["step"] as? Int
  }

  static func line(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.keyEncodingStrategy = .convertToSnakeCase
    encoder.outputFormatting = [.sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
  }
}
