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
  /// - Throws: ``TrainingError/incompatibleCheckpoint(_:)`` when the kinds
  ///   differ, or the stored state is not one value per parameter.
  public func resumed(from stored: Optimizer) throws -> Optimizer {
    let (mine, theirs) = (stateCounts, stored.stateCounts)
    guard name != stored.name || mine == theirs else {
      throw TrainingError.incompatibleCheckpoint(
        "the checkpoint's \(stored.name) state holds \(theirs.map(String.init).joined(separator: " and ")) "
          + "values, the model has \(mine.first ?? 0) parameters")
    }
    switch (self, stored) {
    case (.sgd(let mine), .sgd(let theirs)): return .sgd(mine.withState(of: theirs))
    case (.adam(let mine), .adam(let theirs)): return .adam(mine.withState(of: theirs))
    default:
      throw TrainingError.incompatibleCheckpoint(
        "the checkpoint's optimizer is \(stored.name), the config's \(name)")
    }
  }

  /// The lengths of the per-parameter state: velocity, or first and second moments.
  var stateCounts: [Int] {
    switch self {
    case .sgd(let sgd): return [sgd.velocity.count]
    case .adam(let adam): return [adam.firstMoments.count, adam.secondMoments.count]
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
