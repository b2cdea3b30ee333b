import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// A vector field computed by a chain of layers, `dz/dt = network(z, t)`,
/// with the chain's hand-written VJP: an ODE block of an ODE-Net.
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
    if n == 0 { return }
    parameters.withUnsafeBufferPointer { p in
      let output =
        derivatives
        ?? MutableMatrixView(base: scratch.reserve(n * dimension), rows: n, columns: dimension)
      network.forward(batch.states, times: batch.times, parameters: p.baseAddress!, into: output)
      keeper.prepare(network)
      timeCotangents?.update(repeating: 0, count: n)
      network.backward(
        times: batch.times, parameters: p.baseAddress!, outputCotangent: cotangents,
        inputCotangent: stateCotangents, timeCotangents: timeCotangents,
        parameterGradient: parameterGradient?.gradient, rowWeights: parameterGradient?.rowWeights)
    }
    keeper.keepIfArmed(network, batch: batch, cotangents: cotangents, outputCotangent: cotangents)
  }

  private let scratch = ScratchBuffer<Scalar>()
  private let keeper = NetworkProductKeeper<Scalar>()

  public var keptProducts: [KeptProduct<Scalar>] { keeper.keptProducts }

  public func keepNextProduct(in product: KeptProduct<Scalar>) { keeper.armed = product }

  public func replayParameterGradient(
    of product: KeptProduct<Scalar>, rows: UnsafePointer<Int>?, count: Int,
    rowWeights: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
  ) {
    keeper.replay(
      network, product: product, rows: rows, count: count, parameters: parameters,
      rowWeights: rowWeights, into: gradient)
  }
}
