import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// The ``ReplayableVectorField`` side of a field computed by one
/// ``Sequential`` (``NetworkField``, ``CNFField``): it keeps the network's
/// last backward pass in a ``KeptProduct`` when armed, and replays the
/// parameter gradient of chosen rows from it.
final class NetworkProductKeeper<Scalar: TensorScalar> {
  /// The field's two reusable holders.
  let keptProducts = [KeptProduct<Scalar>(), KeptProduct<Scalar>()]
  /// Where the next product is kept, if anywhere.
  var armed: KeptProduct<Scalar>?

  /// Before a product's backward pass: an armed keeper needs every layer's
  /// cotangents of it.
  func prepare(_ network: Sequential<Scalar>) {
    if armed != nil { network.keepsEveryCotangent = true }
  }

  /// After a vector-Jacobian product on `batch` with field cotangents
  /// `cotangents`, whose network backward pass took `outputCotangent` (and
  /// `tangentCotangent`): keeps it in the armed holder, if one is armed.
  func keepIfArmed(
    _ network: Sequential<Scalar>, batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>,
    outputCotangent: MatrixView<Scalar>, tangentCotangent: MatrixView<Scalar>? = nil
  ) {
    guard let product = armed else { return }
    armed = nil
    product.keepInputs(batch, cotangents: cotangents)
    let record = product.record as? KeptBackward<Scalar> ?? network.makeKeptBackward()
    product.record = record
    network.keepLastBackward(
      in: record, times: batch.times, outputCotangent: outputCotangent,
      tangentCotangent: tangentCotangent)
  }

  /// ``ReplayableVectorField/replayParameterGradient(of:rows:count:rowWeights:into:)``
  /// through `network`.
  func replay(
    _ network: Sequential<Scalar>, product: KeptProduct<Scalar>, rows: UnsafePointer<Int>?,
    count: Int, parameters: [Scalar], rowWeights: UnsafePointer<Scalar>,
    into gradient: UnsafeMutablePointer<Scalar>
  ) {
    guard let record = product.record as? KeptBackward<Scalar> else {
      preconditionFailure("replayParameterGradient of a product that was never kept")
    }
    parameters.withUnsafeBufferPointer {
      network.replayParameterGradient(
        of: record, rows: rows, count: count, parameters: $0.baseAddress!, into: gradient,
        rowWeights: rowWeights)
    }
  }
}
