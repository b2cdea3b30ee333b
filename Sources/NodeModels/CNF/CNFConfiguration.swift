import NodeCore

/// How a CNF field estimates `tr(∂f/∂z)`, the divergence in the
/// instantaneous change of variables (Chen et al. 2018, eq. 8).
public enum CNFTraceEstimator: Sendable, Equatable {
  /// The exact trace from `D` forward-mode directions `e_1 … e_D`: `D` JVP
  /// directions per evaluation, cheap for small `D`.
  case exact
  /// Hutchinson's estimator `tr J ≈ εᵀ J ε` (FFJORD, Grathwohl et al. 2019,
  /// eq. 7) with one direction `ε` per sample, `E[ε εᵀ] = I`, fixed for the
  /// whole solve: one JVP direction per evaluation, unbiased for any `D`.
  case hutchinson(noise: HutchinsonNoise)

  /// The number of forward-mode directions per row for `dataDimension` `D`.
  func directionCount(dataDimension d: Int) -> Int {
    switch self {
    case .exact: return d
    case .hutchinson: return 1
    }
  }
}

/// The distribution of a Hutchinson direction's components (independent,
/// zero mean, unit variance).
public enum HutchinsonNoise: String, Sendable, Equatable, CaseIterable {
  /// Standard normal components: `Var(εᵀJε) = 2 ‖J_s‖²_F`, `J_s = (J + Jᵀ)/2`.
  case gaussian
  /// ±1 components: `Var(εᵀJε) = 2 (‖J_s‖²_F − Σ_i J_ii²)`, never larger than Gaussian's.
  case rademacher

  /// Writes `ε` of sample `identifier`, `d` components, into `out`: the draws
  /// at indices `identifier · d ..< identifier · d + d` of `stream` under
  /// `seed`, so a sample's noise depends on nothing but `(seed, stream, identifier)`.
  @inline(__always)
  func fill<Scalar: TensorScalar>(
    _ out: UnsafeMutablePointer<Scalar>, count d: Int, seed: UInt64, stream: UInt64,
    identifier: Int
  ) {
    let random = CounterRandom(seed: seed)
    let start = UInt64(truncatingIfNeeded: identifier) &* UInt64(d)
    let buffer = UnsafeMutableBufferPointer(start: out, count: d)
    switch self {
    case .gaussian: random.fillNormal(buffer, stream: stream, start: start)
    case .rademacher: random.fillRademacher(buffer, stream: stream, start: start)
    }
  }
}

/// The RNODE regularisers a CNF field integrates alongside `[z, Δ]` (Finlay
/// et al. 2020, "How to train your neural ODE", eq. 10–13), each as one extra
/// state component that starts at 0:
///
///     dE/dt = ‖f(z, t)‖²              (kinetic energy),
///     dF/dt = ‖∂f/∂z‖²_F              (Jacobian Frobenius norm),
///
/// with `‖J‖²_F = Σ_k ‖J e_k‖²` exactly, or its unbiased estimate `‖J ε‖²`
/// under Hutchinson's estimator (the same `ε` as the trace). The dynamics of
/// `z` and `Δ` never read them: solve with ``PIController/controlledDimensions``
/// = `D + 1` to keep them out of error control.
public struct RNODERegularisers: OptionSet, Sendable, Hashable {
  /// The set's bits: 1 kinetic energy, 2 Jacobian Frobenius norm.
  public let rawValue: Int
  /// Creates a set from its bits.
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// `E`, the integral of `‖f‖²`.
  public static let kineticEnergy = RNODERegularisers(rawValue: 1)
  /// `F`, the integral of `‖∂f/∂z‖²_F`.
  public static let jacobianFrobenius = RNODERegularisers(rawValue: 2)
}

/// A configuration a CNF cannot run with.
public enum CNFError: Error, CustomStringConvertible, Equatable {
  /// A setting outside its allowed values.
  case invalidConfiguration(name: String, value: String, allowed: String)
  /// Some samples' solves failed (non-finite, too many steps, …) in a block.
  case solveFailed(block: Int, direction: String, failedSamples: Int)

  /// What is wrong, and what is allowed.
  public var description: String {
    switch self {
    case .invalidConfiguration(let name, let value, let allowed):
      return "invalid \(name) = \(value); allowed: \(allowed)"
    case .solveFailed(let block, let direction, let failed):
      return "the \(direction) solve of CNF block \(block) failed for \(failed) samples"
    }
  }
}
