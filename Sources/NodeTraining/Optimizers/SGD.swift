import NodeCore

/// Stochastic gradient descent with momentum, as PyTorch's `torch.optim.SGD`:
///
///     g ← g + λ θ,   b ← μ b + g (b = g on the first step),
///     θ ← θ − lr · (Nesterov ? g + μ b : b)
///
/// on one flat parameter buffer, element by element in a fixed order.
public struct SGD<Scalar: TensorScalar>: Sendable {
  /// The learning rate.
  public var learningRate: Scalar
  /// The momentum `μ` (0: plain SGD).
  public var momentum: Scalar
  /// Nesterov's variant.
  public var nesterov: Bool
  /// L2 weight decay `λ`, added to the gradient.
  public var weightDecay: Scalar
  /// The momentum buffer.
  public private(set) var velocity: [Scalar]
  /// The number of steps taken.
  public private(set) var step = 0

  /// An optimizer for `parameterCount` parameters.
  public init(
    parameterCount: Int, learningRate: Scalar, momentum: Scalar = 0, nesterov: Bool = false,
    weightDecay: Scalar = 0
  ) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.nesterov = nesterov
    self.weightDecay = weightDecay
    velocity = [Scalar](repeating: 0, count: parameterCount)
  }

  /// Updates `parameters` in place from `gradient` (same length).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public mutating func update(_ parameters: inout [Scalar], gradient: [Scalar]) {
    precondition(parameters.count == velocity.count && gradient.count == velocity.count)
    let first = step == 0
    step += 1
    for i in 0..<parameters.count {
      var g = gradient[i]
      if weightDecay != 0 { g += weightDecay * parameters[i] }
      var direction = g
      if momentum != 0 {
        let b = first ? g : momentum * velocity[i] + g
        velocity[i] = b
        direction = nesterov ? g + momentum * b : b
      }
      parameters[i] -= learningRate * direction
    }
  }
}

extension SGD: Codable, Equatable where Scalar: Codable {}

extension SGD {
  /// This optimizer's settings with `other`'s momentum buffer and step count.
  public func withState(of other: SGD) -> SGD {
    precondition(other.velocity.count == velocity.count, "parameter counts differ")
    var result = self
    result.velocity = other.velocity
    result.step = other.step
    return result
  }
}
