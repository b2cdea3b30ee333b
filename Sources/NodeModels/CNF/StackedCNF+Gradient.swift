import NodeCore
import NodeSensitivity
import NodeSolvers

/// The weights `λ` of the RNODE regularisers in a training loss (Finlay et
/// al. 2020, eq. 14): `L = NLL + λ_K E + λ_J F`.
public struct RNODEWeights<Scalar: TensorScalar>: Sendable, Equatable {
  /// `λ_K`, on the kinetic energy `E = Σ_k ∫ ‖f_k‖² dt`.
  public var kineticEnergy: Scalar
  /// `λ_J`, on the Jacobian norm `F = Σ_k ∫ ‖∂f_k/∂z‖²_F dt`.
  public var jacobianFrobenius: Scalar

  /// Weights for both regularisers (0 leaves one out of the loss).
  public init(kineticEnergy: Scalar = 0, jacobianFrobenius: Scalar = 0) {
    self.kineticEnergy = kineticEnergy
    self.jacobianFrobenius = jacobianFrobenius
  }
}

/// One training evaluation of a ``StackedCNF``: the loss's parts (means over
/// the batch) and its gradients.
public struct StackedCNFGradient<Scalar: TensorScalar> {
  /// The mean negative log-likelihood, in nats.
  public let negativeLogLikelihood: Scalar
  /// The mean kinetic energy `E`, summed over blocks (0 where not integrated).
  public let kineticEnergy: Scalar
  /// The mean Jacobian norm `F`, summed over blocks (0 where not integrated).
  public let jacobianFrobenius: Scalar
  /// `NLL + λ_K E + λ_J F`.
  public let loss: Scalar
  /// `dL/dθ`, every block's concatenated (``StackedCNF/parameterRanges``).
  public let parameters: [Scalar]
  /// `dL/dx` of each data point, `[B, D]`.
  public let data: Tensor<Scalar>
  /// Each block's forward statistics, in block order.
  public let forward: [SolveStatistics<Scalar>]
  /// Each block's adjoint statistics, in block order.
  public let backward: [SolveStatistics<Scalar>]
}

extension StackedCNF {
  /// The loss `L = (1/B) Σ_s [−log p(x_s) + λ_K E_s + λ_J F_s]` on data `x`
  /// (`[B, D]`) and its gradient with respect to every block's parameters,
  /// by the backsolve adjoint block by block in reverse: the last block's
  /// output cotangent is `z_K / B` (from `½‖z_K‖²`), every block's `Δ`, `E`,
  /// `F` get `1/B`, `λ_K/B`, `λ_J/B`, and block `k`'s cotangent on its initial
  /// `z` is block `k − 1`'s output cotangent.
  ///
  /// Sets every block's ``CNFField/noiseSeed`` to `noiseSeed` and its
  /// ``CNFField/noiseStream`` to its index, so a Hutchinson direction is a
  /// function of `(noiseSeed, block, sample identifier)`: pass a new seed per
  /// iteration for fresh noise.
  ///
  /// - Parameter sampleIdentifiers: what the fields see per sample (default
  ///   the row positions), e.g. global indices of a shard.
  /// - Throws: ``CNFError/invalidConfiguration(name:value:allowed:)`` for a
  ///   negative or non-finite weight, or a nonzero weight on a regulariser a
  ///   block does not integrate; ``CNFError/solveFailed(block:direction:failedSamples:)``
  ///   when a sample's forward or adjoint solve fails; ``SensitivityError``
  ///   for inputs the solver refuses.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func lossAndGradient(
    data x: Tensor<Scalar>, noiseSeed: UInt64 = 0,
    weights: RNODEWeights<Scalar> = RNODEWeights(), sampleIdentifiers: [Int]? = nil
  ) throws -> StackedCNFGradient<Scalar> {
    try validate(weights)
    let d = dataDimension
    guard x.rank == 2 && x.shape[1] == d else {
      throw SolverError.shapeMismatch(what: "the data", expected: "[B, \(d)]", found: x.shape)
    }
    let b = x.shape[0]
    let scale = 1 / Scalar(b)
    var passes: [ForwardPass<Scalar>] = []
    var current = x
    var deltas = [Scalar](repeating: 0, count: b)
    var energy: Scalar = 0
    var frobenius: Scalar = 0
    for (k, block) in blocks.enumerated() {
      block.noiseSeed = noiseSeed
      block.noiseStream = UInt64(k)
      let pass = try solver.forward(
        block, initialStates: block.initialStates(data: current),
        times: .shared([intervals[k].lowerBound, intervals[k].upperBound]),
        sampleIdentifiers: sampleIdentifiers)
      try check(pass.solution.statistics, block: k, direction: "forward")
      let final = pass.solution.finalStates
      for s in 0..<b {
        if let e = block.kineticEnergyIndex { energy += final.scalars[s * block.dimension + e] }
        if let j = block.jacobianFrobeniusIndex {
          frobenius += final.scalars[s * block.dimension + j]
        }
      }
      current = CNFStates.data(of: final, dimension: d, deltasAddedTo: &deltas)
      passes.append(pass)
    }
    var nll: Scalar = 0
    for s in 0..<b {
      nll -= StandardNormalBase.logDensity(current.row(s), dimension: d) - deltas[s]
    }
    // ∂L/∂z_K = z_K / B; then each block hands its initial z's cotangent back.
    var zBar = current.scalars.map { $0 * scale }
    var parameterGradient = [Scalar](repeating: 0, count: parameterCount)
    var backward: [SolveStatistics<Scalar>] = []
    for k in stride(from: blocks.count - 1, through: 0, by: -1) {
      let block = blocks[k]
      let w = block.dimension
      var cotangents = [Scalar](repeating: 0, count: b * 2 * w)
      for s in 0..<b {
        let row = (s * 2 + 1) * w
        for i in 0..<d { cotangents[row + i] = zBar[s * d + i] }
        cotangents[row + d] = scale
        if let e = block.kineticEnergyIndex { cotangents[row + e] = weights.kineticEnergy * scale }
        if let j = block.jacobianFrobeniusIndex {
          cotangents[row + j] = weights.jacobianFrobenius * scale
        }
      }
      let gradients = try solver.backward(
        passes[k], outputCotangents: Tensor(shape: [b, 2, w], scalars: cotangents))
      try check(gradients.statistics, block: k, direction: "adjoint")
      let initial = gradients.initialStates.scalars
      for s in 0..<b {
        for i in 0..<d { zBar[s * d + i] = initial[s * w + i] }
      }
      let range = parameterRanges[k]
      parameterGradient.replaceSubrange(range, with: gradients.parameters.scalars)
      backward.append(gradients.statistics)
    }
    let meanEnergy = energy * scale
    let meanFrobenius = frobenius * scale
    let meanNLL = nll * scale
    return StackedCNFGradient(
      negativeLogLikelihood: meanNLL, kineticEnergy: meanEnergy, jacobianFrobenius: meanFrobenius,
      loss: meanNLL + weights.kineticEnergy * meanEnergy
        + weights.jacobianFrobenius * meanFrobenius,
      parameters: parameterGradient, data: Tensor(shape: [b, d], scalars: zBar),
      forward: passes.map(\.solution.statistics), backward: backward.reversed())
  }

  /// Refuses weights that are negative, non-finite, or on a regulariser some
  /// block does not integrate.
  func validate(_ weights: RNODEWeights<Scalar>) throws {
    for (name, value, regulariser) in [
      ("kinetic energy weight", weights.kineticEnergy, RNODERegularisers.kineticEnergy),
      ("Jacobian Frobenius weight", weights.jacobianFrobenius, .jacobianFrobenius),
    ] {
      guard value.isFinite && value >= 0 else {
        throw CNFError.invalidConfiguration(name: name, value: "\(value)", allowed: "finite, ≥ 0")
      }
      if value != 0, let k = blocks.firstIndex(where: { !$0.regularisers.contains(regulariser) }) {
        throw CNFError.invalidConfiguration(
          name: name, value: "\(value)",
          allowed: "0, since block \(k) does not integrate this regulariser")
      }
    }
  }

  /// Throws when some sample's solve did not succeed.
  func check(_ statistics: SolveStatistics<Scalar>, block: Int, direction: String) throws {
    let failed = statistics.status.filter { $0 != .success }.count
    if failed > 0 {
      throw CNFError.solveFailed(block: block, direction: direction, failedSamples: failed)
    }
  }
}
