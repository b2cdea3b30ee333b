import NodeCore
import NodeSolvers

/// The backward dynamics of the adjoint method on the augmented state
/// `[z, a]` of `2D` elements per sample (the paper's eq. 4 and Algorithm 1):
///
///     dz/dt = f(z, t; θ),    da/dt = −aᵀ ∂f/∂z (z, t; θ).
///
/// The parameter integral `−∫ aᵀ ∂f/∂θ dt` is not part of this state: a
/// ``ParameterIntegralObserver`` accumulates it from accepted steps, partly
/// through ``stageParameterGradient``.
final class AugmentedAdjointField<Scalar: TensorScalar>: VectorField {
  let field: any DifferentiableVectorField<Scalar>
  /// Where the next evaluation also adds its rows' weighted `aᵀ ∂f/∂θ`, in
  /// the same vector-Jacobian product that gives `−aᵀ ∂f/∂z` (set by the
  /// observer just before a stage's evaluation, used by that one evaluation).
  var stageParameterGradient: ParameterGradientSink<Scalar>?

  init(_ field: any DifferentiableVectorField<Scalar>) { self.field = field }

  var dimension: Int { 2 * field.dimension }

  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func evaluate(_ batch: FieldBatch<Scalar>, into out: MutableMatrixView<Scalar>) {
    let d = field.dimension
    let n = batch.count
    let (z, a) = AugmentedState.halves(batch.states, dimension: d)
    let stride = out.rowStride
    let parameterGradient = stageParameterGradient
    stageParameterGradient = nil
    field.vectorJacobianProduct(
      FieldBatch(count: n, times: batch.times, states: z, sampleIndices: batch.sampleIndices),
      cotangents: a,
      stateCotangents: MutableMatrixView(
        base: out.base + d, rows: n, columns: d, rowStride: stride),
      derivatives: MutableMatrixView(base: out.base, rows: n, columns: d, rowStride: stride),
      timeCotangents: nil, parameterGradient: parameterGradient)
    for r in 0..<n {
      let row = out.base + r * stride + d
      for i in 0..<d { row[i] = -row[i] }
    }
  }
}

/// The layout of the augmented state: `z` in the first `D` elements of a row, `a` in the next `D`.
enum AugmentedState {
  /// The `z` and `a` halves of augmented rows, as strided views.
  static func halves<Scalar>(_ rows: MatrixView<Scalar>, dimension d: Int) -> (
    MatrixView<Scalar>, MatrixView<Scalar>
  ) {
    (
      MatrixView(base: rows.base, rows: rows.rows, columns: d, rowStride: rows.rowStride),
      MatrixView(base: rows.base + d, rows: rows.rows, columns: d, rowStride: rows.rowStride)
    )
  }
}
