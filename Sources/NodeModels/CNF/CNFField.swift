import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// The former name of ``CNFField``, whose default configuration (exact trace,
/// no regularisers) is the old field.
public typealias ExactTraceCNFField<Scalar: TensorScalar> = CNFField<Scalar>

/// The dynamics of a continuous normalizing flow (Chen et al. 2018, eq. 8,
/// the instantaneous change of variables) on the augmented state
/// `[z (D), Δ, E?, F?]` per sample:
///
///     dz/dt = f(z, t; θ),    dΔ/dt = −tr(∂f/∂z),
///     dE/dt = ‖f‖²,          dF/dt = ‖∂f/∂z‖²_F        (when regularised).
///
/// The trace comes from forward-mode directions `v_k` computed alongside the
/// forward pass (``CNFTraceEstimator``): the `D` unit vectors (exact), or one
/// Hutchinson direction `ε` per sample, `tr J ≈ εᵀ J ε` (FFJORD eq. 7).
/// `ε` is a pure function of ``noiseSeed``, ``noiseStream`` and the row's
/// sample identifier (``FieldBatch/sampleIndices``): fixed for a whole solve,
/// the same in the adjoint's backward reconstruction, and independent of the
/// sample's batch position and batch-mates. Set a new seed per training
/// iteration for fresh noise.
///
/// The adjoint is derived by hand: the vector-Jacobian product runs backward
/// through every layer's pair map `(z, v) ↦ (f, J v)` (``Sequential/jvpBackward(times:parameters:outputCotangent:tangentCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``)
/// with cotangents `f̄ = a_z + 2 a_E f` and `(J v_k)‾ = −a_Δ v_k + 2 a_F J v_k`
/// (RNODE eq. 10–13 differentiated). `Δ`, `E` and `F` never feed back into
/// the dynamics, so their state cotangents are zero.
///
/// It keeps evaluations for backprop through the solver
/// (``StageKeepingVectorField``) and vector-Jacobian products for the
/// adjoint's first-same-as-last stage (``ReplayableVectorField``, whose replay
/// computes only the layers' parameter gradients).
///
/// Parameters are the network's, flat, in its order.
public final class CNFField<Scalar: TensorScalar>: StageKeepingVectorField, ReplayableVectorField {
  /// The network `f`, `D → D`, with time as an input of its layers.
  public let network: Sequential<Scalar>
  public var parameters: [Scalar]
  /// How the trace is computed.
  public let trace: CNFTraceEstimator
  /// The regularisers integrated after `Δ`, in the order `E`, `F`.
  public let regularisers: RNODERegularisers
  /// The Philox key of the Hutchinson directions (unused by the exact trace).
  public var noiseSeed: UInt64 = 0
  /// The Philox stream of the Hutchinson directions, e.g. a flow block's index.
  public var noiseStream: UInt64 = 0
  /// `D`, the data dimension.
  public let dataDimension: Int
  /// `D + 1` plus one per regulariser.
  public let dimension: Int
  /// The state component holding `E`, if integrated.
  public let kineticEnergyIndex: Int?
  /// The state component holding `F`, if integrated.
  public let jacobianFrobeniusIndex: Int?
  /// Forward-mode directions per row: `D` (exact) or 1 (Hutchinson).
  let directionCount: Int
  private let directionScratch = ScratchBuffer<Scalar>()
  private let imageTangents = ScratchBuffer<Scalar>()
  private let outputScratch = ScratchBuffer<Scalar>()
  private let outputBars = ScratchBuffer<Scalar>()
  private let tangentBars = ScratchBuffer<Scalar>()
  private let stateBars = ScratchBuffer<Scalar>()
  /// Where the next evaluation keeps itself (``keepNextEvaluation(in:)``).
  var evaluationToKeep: KeptEvaluation<Scalar>?
  /// Rows of a kept evaluation gathered for a product at some of them.
  let gathered = (
    times: ScratchBuffer<Scalar>(), outputs: ScratchBuffer<Scalar>(),
    directions: ScratchBuffer<Scalar>(), images: ScratchBuffer<Scalar>(),
    cotangents: ScratchBuffer<Scalar>()
  )
  /// The two holders of the adjoint's kept products (``ReplayableVectorField``).
  public let keptProducts = [KeptProduct<Scalar>(), KeptProduct<Scalar>()]
  /// Where the next vector-Jacobian product keeps itself (``keepNextProduct(in:)``).
  var productToKeep: KeptProduct<Scalar>?

  /// A flow over `network` with the given flat parameters, trace estimator
  /// and regularisers.
  ///
  /// - Precondition: the network maps `D` to `D`, differentiates its JVP,
  ///   and `parameters` has its count.
  public init(
    network: Sequential<Scalar>, parameters: [Scalar], trace: CNFTraceEstimator = .exact,
    regularisers: RNODERegularisers = []
  ) {
    precondition(network.inputSize == network.outputSize, "a CNF's network maps R^D to R^D")
    precondition(network.isTangentDifferentiable, "every layer of a CNF must differentiate its JVP")
    precondition(
      parameters.count == network.parameterCount, "\(network.parameterCount) parameters expected")
    self.network = network
    self.parameters = parameters
    self.trace = trace
    self.regularisers = regularisers
    let d = network.inputSize
    dataDimension = d
    var next = d + 1
    kineticEnergyIndex = regularisers.contains(.kineticEnergy) ? next : nil
    if regularisers.contains(.kineticEnergy) { next += 1 }
    jacobianFrobeniusIndex = regularisers.contains(.jacobianFrobenius) ? next : nil
    if regularisers.contains(.jacobianFrobenius) { next += 1 }
    dimension = next
    directionCount = trace.directionCount(dataDimension: d)
  }

  /// A field over the same network and parameters (shared, not copied) with
  /// another configuration, e.g. the exact trace without regularisers to
  /// evaluate a density trained with Hutchinson's estimator.
  public func with(trace: CNFTraceEstimator, regularisers: RNODERegularisers = [])
    -> CNFField<Scalar>
  {
    let field = CNFField(
      network: network, parameters: parameters, trace: trace, regularisers: regularisers)
    field.noiseSeed = noiseSeed
    field.noiseStream = noiseStream
    return field
  }

  public var parameterCount: Int { parameters.count }

  public var parameterBlocks: [Range<Int>] { network.parameterRanges }

  /// The error-control prefix that leaves the regularisers out: `[z, Δ]`, `D + 1`
  /// components (for ``PIController/controlledDimensions``).
  public var controlledDimensions: Int { dataDimension + 1 }

  /// The augmented initial states `[x, 0, 0…]` of data points `[B, D]`.
  public func initialStates(data x: Tensor<Scalar>) -> Tensor<Scalar> {
    let (b, d, w) = (x.shape[0], dataDimension, dimension)
    precondition(x.rank == 2 && x.shape[1] == d, "data must be [B, \(d)], got \(x.shape)")
    var scalars = [Scalar](repeating: 0, count: b * w)
    for s in 0..<b {
      for i in 0..<d { scalars[s * w + i] = x.scalars[s * d + i] }
    }
    return Tensor(shape: [b, w], scalars: scalars)
  }

  /// Fills the directions `v_k` of every row: the unit vectors, or the row's
  /// Hutchinson `ε` keyed by its sample identifier.
  private func fillDirections(_ batch: FieldBatch<Scalar>) -> UnsafeMutablePointer<Scalar> {
    let (n, d, m) = (batch.count, dataDimension, directionCount)
    let v = directionScratch.reserve(n * m * d)
    switch trace {
    case .exact:
      v.update(repeating: 0, count: n * d * d)
      for r in 0..<n {
        for k in 0..<d { v[r * d * d + k * d + k] = 1 }
      }
    case .hutchinson(let noise):
      for r in 0..<n {
        noise.fill(
          v + r * d, count: d, seed: noiseSeed, stream: noiseStream,
          identifier: batch.sampleIndices[r])
      }
    }
    return v
  }

  /// Runs the network and its directions on the `z` part of the rows: `f`
  /// (`[n, D]`), the directions `v` and their images `J v` (`[n, m·D]`);
  /// `keeping`: the pass is kept for backprop through the solver
  /// (``NodeNN/Sequential/forward(_:times:parameters:into:streamingFusedOutputs:)``).
  private func forwardWithTangents(
    _ batch: FieldBatch<Scalar>, parameters p: UnsafePointer<Scalar>, keeping: Bool = false
  )
    -> (
      f: UnsafeMutablePointer<Scalar>, v: UnsafeMutablePointer<Scalar>,
      jv: UnsafeMutablePointer<Scalar>
    )
  {
    let (n, d, m) = (batch.count, dataDimension, directionCount)
    let z = MatrixView(
      base: batch.states.base, rows: n, columns: d, rowStride: batch.states.rowStride)
    let f = outputScratch.reserve(n * d)
    network.forward(
      z, times: batch.times, parameters: p, into: MutableMatrixView(base: f, rows: n, columns: d),
      streamingFusedOutputs: keeping)
    let v = fillDirections(batch)
    let jv = imageTangents.reserve(n * m * d)
    network.jvp(
      times: batch.times, parameters: p,
      inputTangents: MatrixView(base: v, rows: n, columns: m * d),
      directions: m, into: MutableMatrixView(base: jv, rows: n, columns: m * d),
      streamingFusedOutputs: keeping)
    return (f, v, jv)
  }

  /// Writes `[f, −tr J, ‖f‖²?, ‖J‖²_F?]` into `out` from the network output,
  /// the directions and their images.
  private func write(
    _ f: UnsafePointer<Scalar>, _ v: UnsafePointer<Scalar>, _ jv: UnsafePointer<Scalar>,
    rows n: Int, into out: MutableMatrixView<Scalar>
  ) {
    let d = dataDimension
    let width = directionCount * d
    for r in 0..<n {
      let row = out.row(r)
      for k in 0..<d { row[k] = f[r * d + k] }
      var trace: Scalar = 0
      switch self.trace {
      case .exact:
        // tr J = Σ_k (J e_k)_k.
        for k in 0..<d { trace += jv[r * width + k * d + k] }
      case .hutchinson:
        // FFJORD eq. 7: tr J ≈ εᵀ (J ε).
        for i in 0..<d { trace += v[r * d + i] * jv[r * d + i] }
      }
      row[d] = -trace
      if let e = kineticEnergyIndex {
        // RNODE eq. 10: dE/dt = ‖f‖².
        var energy: Scalar = 0
        for k in 0..<d { energy += f[r * d + k] * f[r * d + k] }
        row[e] = energy
      }
      if let j = jacobianFrobeniusIndex {
        // RNODE eq. 11–13: dF/dt = Σ_k ‖J v_k‖² (exact, or ‖J ε‖² unbiased).
        var norm: Scalar = 0
        for i in 0..<width { norm += jv[r * width + i] * jv[r * width + i] }
        row[j] = norm
      }
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func evaluate(_ batch: FieldBatch<Scalar>, into derivatives: MutableMatrixView<Scalar>) {
    parameters.withUnsafeBufferPointer { p in
      // A kept pass's activations are read back only by backprop through the
      // solver, after the whole solve.
      let (f, v, jv) = forwardWithTangents(
        batch, parameters: p.baseAddress!, keeping: evaluationToKeep != nil)
      write(f, v, jv, rows: batch.count, into: derivatives)
      if let kept = evaluationToKeep {
        evaluationToKeep = nil
        keep(batch, f: f, v: v, jv: jv, in: kept)
      }
    }
  }

  /// The cotangents of the directions' images, `−a_Δ v_k + 2 a_F J v_k`, `[n, m·D]`.
  func imageCotangents(
    _ cotangents: MatrixView<Scalar>, v: UnsafePointer<Scalar>, jv: UnsafePointer<Scalar>,
    rows n: Int
  ) -> UnsafeMutablePointer<Scalar> {
    let d = dataDimension
    let width = directionCount * d
    let bars = tangentBars.reserve(n * width)
    for r in 0..<n {
      let a = cotangents.row(r)
      let row = bars + r * width
      switch trace {
      case .exact:
        // ∂(−Σ_k (J e_k)_k)/∂(J e_k) = −e_k.
        row.update(repeating: 0, count: width)
        for k in 0..<d { row[k * d + k] = -a[d] }
      case .hutchinson:
        for i in 0..<d { row[i] = -a[d] * v[r * d + i] }
      }
      if let j = jacobianFrobeniusIndex {
        let twice = 2 * a[j]
        for i in 0..<width { row[i] += twice * jv[r * width + i] }
      }
    }
    return bars
  }

  /// The cotangent of `f`: `a_z`, plus `2 a_E f` with the kinetic energy.
  func outputCotangents(
    _ cotangents: MatrixView<Scalar>, f: UnsafePointer<Scalar>, rows n: Int
  ) -> MatrixView<Scalar> {
    let d = dataDimension
    guard let e = kineticEnergyIndex else {
      return MatrixView(
        base: cotangents.base, rows: n, columns: d, rowStride: cotangents.rowStride)
    }
    let bars = outputBars.reserve(n * d)
    for r in 0..<n {
      let a = cotangents.row(r)
      let twice = 2 * a[e]
      for k in 0..<d { bars[r * d + k] = a[k] + twice * f[r * d + k] }
    }
    return MatrixView(base: bars, rows: n, columns: d)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func vectorJacobianProduct(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>,
    stateCotangents: MutableMatrixView<Scalar>?, derivatives: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: ParameterGradientSink<Scalar>?
  ) {
    let n = batch.count
    let product = productToKeep
    productToKeep = nil
    if n == 0 { return }
    parameters.withUnsafeBufferPointer { pp in
      let p = pp.baseAddress!
      let (f, v, jv) = forwardWithTangents(batch, parameters: p)
      if let derivatives { write(f, v, jv, rows: n, into: derivatives) }
      // A kept product needs every layer's cotangents of the pass.
      if product != nil { network.keepsEveryCotangent = true }
      backThroughNetwork(
        rows: n, times: batch.times, f: f, v: v, jv: jv, parameters: p, cotangents: cotangents,
        stateCotangents: stateCotangents, timeCotangents: timeCotangents,
        parameterGradient: parameterGradient)
      // The backward pass leaves the forward pass and JVP as they were.
      if let product { keep(batch, cotangents: cotangents, f: f, v: v, jv: jv, in: product) }
    }
  }

  /// The vector-Jacobian product of the network's last forward pass and JVP
  /// (on `n` rows at `times`, with output `f`, directions `v` and their
  /// images `jv`): the state, time and parameter cotangents of the field's
  /// outputs' `cotangents`.
  func backThroughNetwork(
    rows n: Int, times: UnsafePointer<Scalar>, f: UnsafePointer<Scalar>, v: UnsafePointer<Scalar>,
    jv: UnsafePointer<Scalar>, parameters p: UnsafePointer<Scalar>, cotangents: MatrixView<Scalar>,
    stateCotangents: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: ParameterGradientSink<Scalar>?
  ) {
    let d = dataDimension
    let bars = imageCotangents(cotangents, v: v, jv: jv, rows: n)
    let zBar = stateBars.reserve(n * d)
    if let timeCotangents { timeCotangents.update(repeating: 0, count: n) }
    network.jvpBackward(
      times: times, parameters: p,
      outputCotangent: outputCotangents(cotangents, f: f, rows: n),
      tangentCotangent: MatrixView(base: bars, rows: n, columns: directionCount * d),
      inputCotangent: MutableMatrixView(base: zBar, rows: n, columns: d),
      timeCotangents: timeCotangents, parameterGradient: parameterGradient?.gradient,
      rowWeights: parameterGradient?.rowWeights)
    if let stateCotangents {
      for r in 0..<n {
        let row = stateCotangents.row(r)
        for k in 0..<d { row[k] = zBar[r * d + k] }
        for k in d..<dimension { row[k] = 0 }
      }
    }
  }
}
