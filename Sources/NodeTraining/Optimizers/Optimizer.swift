import NodeCore

/// The optimizer of a run, with its state: one value to configure, step,
/// checkpoint (as JSON, moments included) and restore.
public enum Optimizer: Sendable, Codable, Equatable {
  /// SGD with optional momentum, Nesterov and L2 weight decay.
  case sgd(SGD<Float>)
  /// Adam, or AdamW when its decoupled weight decay is nonzero.
  case adam(Adam<Float>)

  /// Takes one step on `parameters` from `gradient` at `learningRate`.
  public mutating func update(
    _ parameters: inout [Float], gradient: [Float], learningRate: Double
  ) {
    switch self {
    case .sgd(var sgd):
      sgd.learningRate = Float(learningRate)
      sgd.update(&parameters, gradient: gradient)
      self = .sgd(sgd)
    case .adam(var adam):
      adam.learningRate = Float(learningRate)
      adam.update(&parameters, gradient: gradient)
      self = .adam(adam)
    }
  }

  /// This optimizer's settings (from the config) with the moments and step
  /// count of `stored` (from a checkpoint).
  ///
  /// - Throws: ``TrainingError/incompatibleCheckpoint(_:)`` when the kinds differ.
  public func resumed(from stored: Optimizer) throws -> Optimizer {
    switch (self, stored) {
    case (.sgd(let mine), .sgd(let theirs)): return .sgd(mine.withState(of: theirs))
    case (.adam(let mine), .adam(let theirs)): return .adam(mine.withState(of: theirs))
    default:
      throw TrainingError.incompatibleCheckpoint(
        "the checkpoint's optimizer is \(stored.name), the config's \(name)")
    }
  }

  /// `sgd` or `adam`.
  var name: String {
    switch self {
    case .sgd: return "sgd"
    case .adam: return "adam/adamw"
    }
  }

  /// Steps taken so far.
  public var step: Int {
    switch self {
    case .sgd(let sgd): return sgd.step
    case .adam(let adam): return adam.step
    }
  }
}

/// Gradient clipping by global norm (PyTorch's `clip_grad_norm_`).
public enum GradientClipping {
  /// The Euclidean norm of `gradient`, accumulated in `Double` in index order.
  public static func norm(_ gradient: [Float]) -> Double {
    var sum = 0.0
    for g in gradient { sum += Double(g) * Double(g) }
    return sum.squareRoot()
  }

  /// Scales `gradient` so its norm is at most `maxNorm`; returns the norm
  /// before clipping.
  @discardableResult
  public static func clip(_ gradient: inout [Float], maxNorm: Double) -> Double {
    let total = norm(gradient)
    if total > maxNorm {
      let scale = Float(maxNorm / (total + 1e-6))
      for i in gradient.indices { gradient[i] *= scale }
    }
    return total
  }
}
