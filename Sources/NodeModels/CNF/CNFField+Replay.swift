import NodeCore
import NodeSensitivity
import NodeSolvers

/// The adjoint's first-same-as-last stage without a second forward pass.
///
/// The backward solve's parameter integral weights the first stage of a
/// dopri5 step by `−b₁ h`, known only once the step is decided; that stage is
/// the previous step's last, evaluated earlier. The vector-Jacobian product
/// of that last stage keeps its forward pass and JVP (``keepNextProduct(in:)``),
/// and the stage's parameter gradient is later replayed from it by the
/// network's backward pass alone (``ParameterIntegralObserver`` in
/// NodeSensitivity), instead of running the stage through the network again.
extension CNFField {
  public func keepNextProduct(in product: KeptProduct<Scalar>) {
    productToKeep = product
  }

  /// Hands the network's pass on `batch` (its forward pass and JVP, which a
  /// backward pass leaves as they were) to `product`, with the rows' states,
  /// cotangents, times and identifiers.
  func keep(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>, f: UnsafePointer<Scalar>,
    v: UnsafePointer<Scalar>, jv: UnsafePointer<Scalar>, in product: KeptProduct<Scalar>
  ) {
    product.keepInputs(batch, cotangents: cotangents)
    let evaluation = product.record as? KeptEvaluation<Scalar> ?? KeptEvaluation()
    product.record = evaluation
    keep(batch, f: f, v: v, jv: jv, in: evaluation)
  }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func replayParameterGradient(
    of product: KeptProduct<Scalar>, rows chosen: UnsafePointer<Int>?, count: Int,
    rowWeights: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>
  ) {
    guard let evaluation = product.record as? KeptEvaluation<Scalar>, evaluation.rows > 0 else {
      preconditionFailure("replayParameterGradient of a product that was never kept")
    }
    var cotangents = product.keptCotangents
    if let chosen {
      let columns = cotangents.columns
      cotangents = MatrixView(
        base: gathered.cotangents.gather(
          rows: chosen, count: count, of: cotangents.base, columns: columns),
        rows: count, columns: columns)
    }
    backward(
      from: evaluation, rows: chosen, count: chosen == nil ? evaluation.rows : count,
      cotangents: cotangents, stateCotangents: nil,
      parameterGradient: ParameterGradientSink(gradient: gradient, rowWeights: rowWeights),
      consuming: false)
  }
}
