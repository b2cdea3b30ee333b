import NodeCore

/// How a parameter tensor starts, as the major frameworks do by default.
///
/// PyTorch's `nn.Linear` and `nn.Conv2d` draw their weight with
/// `kaiming_uniform_(a: √5)`: `U(−b, b)` with `b = gain · √(3 / fan_in)` and
/// `gain = √(2 / (1 + a²)) = √(1/3)`, i.e. `b = 1 / √fan_in`; their bias is
/// `U(−1/√fan_in, 1/√fan_in)` too. Norm layers start at weight 1, bias 0.
public enum ParameterInitialization: Sendable, Equatable {
  /// Uniform on `(−bound, bound)`.
  case uniform(bound: Double)
  /// Every element equal to the value.
  case constant(Double)

  /// PyTorch's default for the weight and bias of a layer whose outputs each
  /// see `fanIn` inputs: `U(−1/√fanIn, 1/√fanIn)`.
  public static func kaimingUniform(fanIn: Int) -> ParameterInitialization {
    precondition(fanIn > 0, "a fan-in must be positive, got \(fanIn)")
    return .uniform(bound: 1 / Double(fanIn).squareRoot())
  }

  /// Fills `count` values from `random`'s `stream`, element `i` from draw `i`,
  /// so a tensor is a pure function of (seed, stream).
  public func fill<Scalar: TensorScalar>(
    _ values: UnsafeMutablePointer<Scalar>, count: Int, random: CounterRandom, stream: UInt64
  ) {
    switch self {
    case .constant(let value):
      values.update(repeating: Scalar(value), count: count)
    case .uniform(let bound):
      for i in 0..<count {
        let u: Double = random.uniform(stream: stream, index: UInt64(i))
        values[i] = Scalar((2 * u - 1) * bound)
      }
    }
  }
}
