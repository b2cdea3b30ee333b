import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// The dynamics of a continuous normalizing flow with the exact trace (the
/// paper's eq. 8, the instantaneous change of variables), for the augmented
/// state `[z, Δ]` of `D + 1` values per sample:
///
///     dz/dt = f(z, t; θ),    dΔ/dt = −tr(∂f/∂z).
///
/// The trace comes from `D` forward-mode directions `e_1 … e_D` computed
/// alongside the forward pass (cheap for the small `D` of toy densities).
/// The adjoint of the trace is derived by hand: the vector-Jacobian product
/// runs backward through the pair map `(z, ż) ↦ (f, ḟ)` of every layer
/// (``Layer/jvpBackward(_:output:times:parameters:inputTangents:outputTangents:directions:outputCotangent:tangentCotangent:inputCotangent:inputTangentCotangent:timeCotangents:parameterGradient:rowWeights:)``)
/// with the tangents' cotangent `ḟ̄_k = −a_Δ e_k`. `Δ` itself never feeds
/// back into the dynamics, so its cotangent has no effect on `z`.
public final class ExactTraceCNFField<Scalar: TensorScalar>: DifferentiableVectorField {
  /// The network `f`, `D → D`, with time as an input of its layers.
  public let network: Sequential<Scalar>
  public var parameters: [Scalar]
  private let identityTangents = ScratchBuffer<Scalar>()
  private let imageTangents = ScratchBuffer<Scalar>()
  private let outputScratch = ScratchBuffer<Scalar>()
  private let tangentBars = ScratchBuffer<Scalar>()
  private let stateBars = ScratchBuffer<Scalar>()

  /// A flow over `network` with the given flat parameters.
  ///
  /// - Precondition: the network maps `D` to `D` and `parameters` has its count.
  public init(network: Sequential<Scalar>, parameters: [Scalar]) {
    precondition(network.inputSize == network.outputSize, "a CNF's network maps R^D to R^D")
    precondition(network.isTangentDifferentiable, "every layer of a CNF must differentiate its JVP")
    precondition(
      parameters.count == network.parameterCount, "\(network.parameterCount) parameters expected")
    self.network = network
    self.parameters = parameters
  }

  /// `D`, the data dimension.
  public var dataDimension: Int { network.inputSize }
  /// `D + 1`: the state and the log-density change.
  public var dimension: Int { dataDimension + 1 }
  public var parameterCount: Int { parameters.count }

  public var parameterBlocks: [Range<Int>] { network.parameterRanges }

  /// The augmented initial states `[x, 0]` of data points `[B, D]`.
  public func initialStates(data x: Tensor<Scalar>) -> Tensor<Scalar> {
    let (b, d) = (x.shape[0], dataDimension)
    precondition(x.rank == 2 && x.shape[1] == d, "data must be [B, \(d)], got \(x.shape)")
    var scalars = [Scalar](repeating: 0, count: b * (d + 1))
    for s in 0..<b {
      for i in 0..<d { scalars[s * (d + 1) + i] = x.scalars[s * d + i] }
    }
    return Tensor(shape: [b, d + 1], scalars: scalars)
  }

  /// Runs the network and its `D` identity directions on the `z` part of the rows.
  private func forwardWithTangents(_ batch: FieldBatch<Scalar>, parameters p: UnsafePointer<Scalar>)
    -> (UnsafeMutablePointer<Scalar>, UnsafeMutablePointer<Scalar>)
  {
    let n = batch.count
    let d = dataDimension
    let z = MatrixView(
      base: batch.states.base, rows: n, columns: d, rowStride: batch.states.rowStride)
    let f = outputScratch.reserve(n * d)
    network.forward(
      z, times: batch.times, parameters: p, into: MutableMatrixView(base: f, rows: n, columns: d))
    let e = identityTangents.reserve(n * d * d)
    e.update(repeating: 0, count: n * d * d)
    for r in 0..<n {
      for k in 0..<d { e[r * d * d + k * d + k] = 1 }
    }
    let jacobianColumns = imageTangents.reserve(n * d * d)
    network.jvp(
      times: batch.times, parameters: p,
      inputTangents: MatrixView(base: e, rows: n, columns: d * d),
      directions: d, into: MutableMatrixView(base: jacobianColumns, rows: n, columns: d * d))
    return (f, jacobianColumns)
  }

  /// Writes `[f, −tr J]` into `out` from the network output and its Jacobian columns.
  private func write(
    _ f: UnsafePointer<Scalar>, _ columns: UnsafePointer<Scalar>, rows n: Int,
    into out: MutableMatrixView<Scalar>
  ) {
    let d = dataDimension
    for r in 0..<n {
      let row = out.row(r)
      var trace: Scalar = 0
      for k in 0..<d {
        row[k] = f[r * d + k]
        trace += columns[r * d * d + k * d + k]
      }
      row[d] = -trace
    }
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func evaluate(_ batch: FieldBatch<Scalar>, into derivatives: MutableMatrixView<Scalar>) {
    parameters.withUnsafeBufferPointer { p in
      let (f, columns) = forwardWithTangents(batch, parameters: p.baseAddress!)
      write(f, columns, rows: batch.count, into: derivatives)
    }
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
    let d = dataDimension
    if n == 0 { return }
    parameters.withUnsafeBufferPointer { pp in
      let p = pp.baseAddress!
      let (f, columns) = forwardWithTangents(batch, parameters: p)
      if let derivatives { write(f, columns, rows: n, into: derivatives) }
      // ḟ̄_k = −a_Δ e_k: the trace's cotangent on each direction's own component.
      let bars = tangentBars.reserve(n * d * d)
      bars.update(repeating: 0, count: n * d * d)
      for r in 0..<n {
        let a = cotangents.row(r)
        for k in 0..<d { bars[r * d * d + k * d + k] = -a[d] }
      }
      let zBar = stateBars.reserve(n * d)
      if let timeCotangents { timeCotangents.update(repeating: 0, count: n) }
      network.jvpBackward(
        times: batch.times, parameters: p,
        outputCotangent: MatrixView(
          base: cotangents.base, rows: n, columns: d, rowStride: cotangents.rowStride),
        tangentCotangent: MatrixView(base: bars, rows: n, columns: d * d),
        inputCotangent: MutableMatrixView(base: zBar, rows: n, columns: d),
        timeCotangents: timeCotangents, parameterGradient: parameterGradient?.gradient,
        rowWeights: parameterGradient?.rowWeights)
      if let stateCotangents {
        for r in 0..<n {
          let row = stateCotangents.row(r)
          for k in 0..<d { row[k] = zBar[r * d + k] }
          row[d] = 0
        }
      }
    }
  }
}
