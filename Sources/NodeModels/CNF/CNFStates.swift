import NodeCore

/// Reading the augmented CNF states `[z, Δ, E?, F?]` apart.
enum CNFStates {
  /// The `z` part (`[B, D]`) of augmented states `[B, W]`, adding each row's
  /// `Δ` into `deltas`.
  static func data<Scalar: TensorScalar>(
    of states: Tensor<Scalar>, dimension d: Int, deltasAddedTo deltas: inout [Scalar]
  ) -> Tensor<Scalar> {
    let (b, w) = (states.shape[0], states.shape[1])
    var z = [Scalar](repeating: 0, count: b * d)
    let all = states.scalars
    for s in 0..<b {
      for i in 0..<d { z[s * d + i] = all[s * w + i] }
      deltas[s] += all[s * w + d]
    }
    return Tensor(shape: [b, d], scalars: z)
  }
}
