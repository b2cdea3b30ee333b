/// Why a chunk's gradient cannot be used.
enum ChunkFailure: Int, Sendable {
  case none = 0
  /// The loss or the gradient holds a NaN or an infinity.
  case nonFinite = 1
  /// A sample's forward or adjoint solve did not succeed.
  case solveFailed = 2
  /// The computation threw.
  case error = 3

  var description: String {
    switch self {
    case .none: return "none"
    case .nonFinite: return "non-finite loss or gradient"
    case .solveFailed: return "a solve did not succeed"
    case .error: return "the gradient computation failed"
    }
  }
}

/// One chunk's scalar results, as the `Double` record every rank gathers.
struct ChunkStatistics: Sendable {
  var loss = 0.0
  var metricSum = 0.0
  var forwardSum = 0.0
  var forwardMax = 0.0
  var backwardSum = 0.0
  var backwardMax = 0.0
  var rejectedSteps = 0.0
  var failure = ChunkFailure.none
  /// The global index of the failing sample, or −1.
  var failedSample = -1.0
  var seconds = 0.0

  /// Values per record.
  static let width = 10

  init() {}

  /// The record of a computed chunk; `samples` are its global indices.
  init(_ result: ChunkGradient, samples: ArraySlice<Int>, seconds: Double) {
    loss = result.loss
    metricSum = result.metricSum
    forwardSum = Double(result.forwardEvaluations.reduce(0, +))
    forwardMax = Double(result.forwardEvaluations.max() ?? 0)
    backwardSum = Double(result.backwardEvaluations.reduce(0, +))
    backwardMax = Double(result.backwardEvaluations.max() ?? 0)
    rejectedSteps = Double(result.rejectedSteps)
    self.seconds = seconds
    if let failed = result.firstFailedSample {
      failure = .solveFailed
      failedSample = Double(samples[samples.startIndex + failed])
    } else if !result.loss.isFinite || result.gradient.contains(where: { !$0.isFinite }) {
      failure = .nonFinite
      failedSample = Double(samples.first ?? -1)
    }
  }

  var flat: [Double] {
    [
      loss, metricSum, forwardSum, forwardMax, backwardSum, backwardMax, rejectedSteps,
      Double(failure.rawValue), failedSample, seconds,
    ]
  }

  init(flat v: ArraySlice<Double>) {
    let b = v.startIndex
    loss = v[b]
    metricSum = v[b + 1]
    forwardSum = v[b + 2]
    forwardMax = v[b + 3]
    backwardSum = v[b + 4]
    backwardMax = v[b + 5]
    rejectedSteps = v[b + 6]
    failure = ChunkFailure(rawValue: Int(v[b + 7])) ?? .error
    failedSample = v[b + 8]
    seconds = v[b + 9]
  }
}
