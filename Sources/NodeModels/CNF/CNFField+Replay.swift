import NodeCore
import NodeNN
import NodeSensitivity
import NodeSolvers

/// The adjoint's first-same-as-last stage without running the network again.
///
/// The backward solve's parameter integral weights the first stage of a
/// dopri5 step by `−b₁ h`, known only once the step is decided; that stage is
/// the previous step's last, evaluated earlier. The vector-Jacobian product
/// of that last stage keeps its forward pass, JVP and every layer's
/// cotangents (``keepNextProduct(in:)``), and the stage's parameter gradient
/// is later replayed from them — the layers' parameter gradients alone, no
/// forward pass and no input cotangents (``ParameterIntegralObserver`` in
/// NodeSensitivity).
extension CNFField {
  public func keepNextProduct(in product: KeptProduct<Scalar>) {
    productToKeep = product
  }

  /// Hands the network's passes on `batch` (forward, JVP and the backward
  /// pass of both, which kept every cotangent) to `product`, with the rows'
  /// states, cotangents, times and identifiers and their `f`, `v` and `J v`.
  func keep(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>, f: UnsafePointer<Scalar>,
    v: UnsafePointer<Scalar>, jv: UnsafePointer<Scalar>, in product: KeptProduct<Scalar>
  ) {
    product.keepInputs(batch, cotangents: cotangents)
    let record: CNFKeptEvaluation<Scalar>
    if let kept = product.record as? CNFKeptEvaluation<Scalar>, kept.network === network,
      kept.backward != nil
    {
      record = kept
    } else {
      record = CNFKeptEvaluation(network: network, keepingBackward: true)
      product.record = record
    }
    record.copy(
      times: batch.times, f: f, v: v, jv: jv, rows: batch.count, dimension: dataDimension,
      width: directionCount * dataDimension)
    network.keepLastJVPBackward(in: record.backward!)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func replayParameterGradient(
    of product: KeptProduct<Scalar>, rows chosen: UnsafePointer<Int>?, count: Int,
    rowWeights: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
  ) {
    guard let record = product.record as? CNFKeptEvaluation<Scalar>, record.network === network,
      let kept = record.backward, kept.rows > 0
    else { preconditionFailure("replayParameterGradient of a product that was never kept") }
    let n = chosen == nil ? kept.rows : count
    let width = directionCount * dataDimension
    let (times, f, v, jv) = keptRows(of: record, rows: chosen, count: n)
    var cotangents = product.keptCotangents
    if let chosen {
      let columns = cotangents.columns
      cotangents = MatrixView(
        base: gathered.cotangents.gather(
          rows: chosen, count: n, of: cotangents.base, columns: columns),
        rows: n, columns: columns)
    }
    // The network's output cotangents, as the product formed them.
    let bars = imageCotangents(cotangents, v: v, jv: jv, rows: n)
    parameters.withUnsafeBufferPointer { p in
      network.replayJVPParameterGradient(
        of: kept, outputCotangent: outputCotangents(cotangents, f: f, rows: n),
        tangentCotangent: MatrixView(base: bars, rows: n, columns: width), times: times,
        rows: chosen, count: n, parameters: p.baseAddress!, into: gradient, rowWeights: rowWeights)
    }
  }
}
