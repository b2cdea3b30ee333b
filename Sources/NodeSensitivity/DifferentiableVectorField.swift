import NodeCore
import NodeSolvers

/// Where a vector-Jacobian product adds its parameter gradient: a flat buffer
/// of ``DifferentiableVectorField/parameterCount`` values, and a weight per
/// row of the batch.
///
/// The product adds `Σ_r w_r a_rᵀ ∂f/∂θ (z_r, t_r)`: an adjoint step weights
/// stage `j` of row `r` by `b_j h_r`, and a rejected row by nothing.
public struct ParameterGradientSink<Scalar>: @unchecked Sendable {
  /// The flat gradient buffer the product adds into.
  public let gradient: UnsafeMutablePointer<Scalar>
  /// One weight per row of the batch; nil weights every row by 1.
  public let rowWeights: UnsafePointer<Scalar>?

  /// Creates a sink over memory owned by the caller.
  public init(gradient: UnsafeMutablePointer<Scalar>, rowWeights: UnsafePointer<Scalar>? = nil) {
    self.gradient = gradient
    self.rowWeights = rowWeights
  }
}

/// A vector field `f(z, t; θ)` with its vector-Jacobian product, the one
/// capability every gradient mode needs.
///
/// Its parameters `θ` are one flat buffer (DESIGN.md, decision 1) in an order
/// the field documents. Like every ``VectorField``, it is per-sample: row `r`
/// of every output depends only on row `r` of the inputs, its time and its
/// sample identifier.
public protocol DifferentiableVectorField<Scalar>: VectorField {
  /// The number of parameters.
  var parameterCount: Int { get }

  /// The parameters, flat (`parameterCount` values). Setting them replaces
  /// every parameter.
  var parameters: [Scalar] { get set }

  /// For every row `r` of `batch`, with cotangent `a_r` (row `r` of `cotangents`):
  ///
  /// - writes `a_rᵀ ∂f/∂z` into row `r` of `stateCotangents`, if given;
  /// - writes `f(z_r, t_r)` into row `r` of `derivatives`, if given (the
  ///   forward pass comes for free);
  /// - writes `a_rᵀ ∂f/∂t` into `timeCotangents[r]`, if given;
  /// - adds `Σ_r w_r a_rᵀ ∂f/∂θ` into the sink's buffer, if given.
  ///
  /// Views may have row strides larger than their width (e.g. halves of an
  /// augmented state). Must not allocate once its scratch is sized for the batch.
  func vectorJacobianProduct(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>,
    stateCotangents: MutableMatrixView<Scalar>?, derivatives: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: ParameterGradientSink<Scalar>?)

  /// The parameter tensors as ranges of the flat buffer, covering it in order.
  var parameterBlocks: [Range<Int>] { get }
}

extension DifferentiableVectorField {
  /// The parameter tensors as ranges of the flat buffer (a layer's weight,
  /// its bias, …); by default one block of every parameter. The full-norm
  /// adjoint measures each block's error on its own, as torchdiffeq does per
  /// parameter tensor.
  public var parameterBlocks: [Range<Int>] { [0..<parameterCount] }

  /// Writes each row's own parameter gradient `w_r a_rᵀ ∂f/∂θ` into row `r` of
  /// `perSample` (`[batch.count, parameterCount]`, overwritten), one product per row.
  ///
  /// The full-norm adjoint needs a sample's own parameter integral; this
  /// default costs one product per row, which a field can do better.
  public func perSampleParameterGradients(
    _ batch: FieldBatch<Scalar>, cotangents: MatrixView<Scalar>,
    rowWeights: UnsafePointer<Scalar>, into perSample: UnsafeMutablePointer<Scalar>
  ) {
    let p = parameterCount
    perSample.update(repeating: 0, count: batch.count * p)
    for r in 0..<batch.count {
      let row = FieldBatch(
        count: 1, times: batch.times + r,
        states: MatrixView(base: batch.states.row(r), rows: 1, columns: batch.states.columns),
        sampleIndices: batch.sampleIndices + r)
      vectorJacobianProduct(
        row,
        cotangents: MatrixView(base: cotangents.row(r), rows: 1, columns: cotangents.columns),
        stateCotangents: nil, derivatives: nil, timeCotangents: nil,
        parameterGradient: ParameterGradientSink(
          gradient: perSample + r * p, rowWeights: rowWeights + r))
    }
  }
}
