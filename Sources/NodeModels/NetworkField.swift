import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// A vector field computed by a chain of layers, `dz/dt = network(z, t)`,
/// with the chain's hand-written VJP: an ODE block of an ODE-Net.
///
/// It is a ``ReplayableVectorField``: a kept product is the network's backward
/// pass (``KeptBackward``), whose layers' parameter gradients are replayed
/// without running the network again.
public final class NetworkField<Scalar: TensorScalar>: ReplayableVectorField {
  /// The network, `D → D`.
  public let network: Sequential<Scalar>
  public var parameters: [Scalar]

  /// A field over `network` with the given flat parameters.
  ///
  /// - Precondition: the network maps `D` to `D` and `parameters` has its count.
  public init(network: Sequential<Scalar>, parameters: [Scalar]) {
    precondition(network.inputSize == network.outputSize, "a vector field maps R^D to R^D")
    precondition(
      parameters.count == network.parameterCount, "\(network.parameterCount) parameters expected")
    self.network = network
    self.parameters = parameters
  }

  public var dimension: Int { network.inputSize }
  public var parameterCount: Int { parameters.count }
  public var parameterBlocks: [Range<Int>] { network.parameterRanges }

  public func evaluate(_ batch: FieldBatch<Scalar>, into derivatives: MutableMatrixView<Scalar>) {
    parameters.withUnsafeBufferPointer {
      // No backward pass follows: the last layer writes the derivatives itself.
      network.evaluate(
        batch.states, times: batch.times, parameters: $0.baseAddress!, into: derivatives)
    }
  }

  public func vectorJacobianProduct(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>,
    stateCotangents: MutableMatrixView<Scalar>?, derivatives: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: ParameterGradientSink<Scalar>?
  ) {
    let n = batch.count
    if n == 0 {
      keepNext = nil
      return
    }
    parameters.withUnsafeBufferPointer { p in
      let output =
        derivatives
        ?? MutableMatrixView(base: scratch.reserve(n * dimension), rows: n, columns: dimension)
      network.forward(batch.states, times: batch.times, parameters: p.baseAddress!, into: output)
      // A kept product needs every layer's cotangents of the pass.
      if keepNext != nil { network.keepsEveryCotangent = true }
      timeCotangents?.update(repeating: 0, count: n)
      network.backward(
        times: batch.times, parameters: p.baseAddress!, outputCotangent: cotangents,
        inputCotangent: stateCotangents, timeCotangents: timeCotangents,
        parameterGradient: parameterGradient?.gradient, rowWeights: parameterGradient?.rowWeights)
    }
    if let product = keepNext {
      keepNext = nil
      product.keepInputs(batch, cotangents: cotangents)
      let record = product.record as? KeptBackward<Scalar> ?? network.makeKeptBackward()
      product.record = record
      network.keepLastBackward(in: record)
    }
  }

  private let scratch = ScratchBuffer<Scalar>()
  /// Where the next vector-Jacobian product is kept, if anywhere.
  private var keepNext: KeptProduct<Scalar>?

  public let keptProducts = [KeptProduct<Scalar>(), KeptProduct<Scalar>()]

  /// Keeps the next product, unless a layer of the network cannot replay
  /// its parameter gradient (``Sequential/canReplayBackward``): the product
  /// then stays empty and the adjoint recomputes the stage.
  public func keepNextProduct(in product: KeptProduct<Scalar>) {
    keepNext = network.canReplayBackward ? product : nil
  }

  public func replayParameterGradient(
    of product: KeptProduct<Scalar>, rows: UnsafePointer<Int>?, count: Int,
    rowWeights: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
  ) {
    guard let record = product.record as? KeptBackward<Scalar> else {
      preconditionFailure("replayParameterGradient of a product that was never kept")
    }
    parameters.withUnsafeBufferPointer {
      // The network's input and output cotangent are the product's states and cotangents.
      network.replayParameterGradient(
        of: record, input: product.keptStates, outputCotangent: product.keptCotangents,
        times: product.keptTimes, rows: rows, count: count, parameters: $0.baseAddress!,
        into: gradient, rowWeights: rowWeights)
    }
  }
}
