import NodeCore

/// Adam (Kingma & Ba, 2015) on one flat parameter buffer, with decoupled
/// weight decay when `weightDecay > 0` (AdamW, Loshchilov & Hutter, 2019):
///
///     m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,
///     θ ← θ − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε) − lr · λ θ
///
/// — PyTorch's `torch.optim.Adam`/`AdamW` update, element by element in a
/// fixed order, so every rank computes bitwise the same step.
public struct Adam<Scalar: TensorScalar>: Sendable {
  /// The learning rate.
  public var learningRate: Scalar
  /// `β₁`, the first-moment decay.
  public var beta1: Scalar = 0.9
  /// `β₂`, the second-moment decay.
  public var beta2: Scalar = 0.999
  /// `ε`, added to the denominator.
  public var epsilon: Scalar = 1e-8
  /// Decoupled weight decay `λ` (0: plain Adam).
  public var weightDecay: Scalar = 0
  /// The first moments, one per parameter.
  public private(set) var firstMoments: [Scalar]
  /// The second moments, one per parameter.
  public private(set) var secondMoments: [Scalar]
  /// The number of steps taken.
  public private(set) var step = 0

  /// An optimizer for `parameterCount` parameters.
  public init(parameterCount: Int, learningRate: Scalar) {
    self.learningRate = learningRate
    firstMoments = [Scalar](repeating: 0, count: parameterCount)
    secondMoments = firstMoments
  }

  /// Updates `parameters` in place from `gradient` (same length).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) {
    precondition(parameters.count == firstMoments.count && gradient.count == firstMoments.count)
    step += 1
    let correction1 = 1 - Scalar.pow(beta1, Scalar(step))
    let correction2 = 1 - Scalar.pow(beta2, Scalar(step))
    let (b1, b2, lr, eps, decay) = (beta1, beta2, learningRate, epsilon, weightDecay)
    for i in 0..<parameters.count {
      let g = gradient[i]
      let m = b1 * firstMoments[i] + (1 - b1) * g
      let v = b2 * secondMoments[i] + (1 - b2) * g * g
      firstMoments[i] = m
      secondMoments[i] = v
      var p = parameters[i]
      if decay != 0 { p -= lr * decay * p }
      p -= lr * (m / correction1) / ((v / correction2).squareRoot() + eps)
      parameters[i] = p
    }
  }
}

extension Adam: Codable, Equatable where Scalar: Codable {}

extension Adam {
  /// This optimizer's settings with `other`'s moments and step count (a
  /// resumed run: the state from the checkpoint, the settings from the config).
  public func withState(of other: Adam) -> Adam {
    precondition(other.firstMoments.count == firstMoments.count, "parameter counts differ")
    var result = self
    result.firstMoments = other.firstMoments
    result.secondMoments = other.secondMoments
    result.step = other.step
    return result
  }
}
