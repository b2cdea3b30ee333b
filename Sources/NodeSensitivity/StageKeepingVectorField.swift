import NodeCore
import NodeSolvers

/// One field evaluation, kept whole by a ``StageKeepingVectorField`` so that
/// a vector-Jacobian product at its rows can follow later without evaluating
/// the field again.
public final class KeptEvaluation<Scalar: TensorScalar> {
  /// The rows of the kept evaluation.
  public var rows = 0
  /// The field's record of the evaluation (e.g. the network's activations),
  /// kept here so that it is made once and reused from one solve to the next.
  public var record: AnyObject?
  /// Each kept row's cotangent, accumulated by backprop through the solver.
  let cotangents = ScratchBuffer<Scalar>()

  /// An empty holder.
  public init() {}
}

/// A field that can keep the intermediate values of an evaluation — a
/// network's activations — and later take a vector-Jacobian product at some
/// of its rows from them: backprop through the solver then runs each stage's
/// product as one backward pass instead of recomputing the stage and its
/// forward pass (``ODEGradientSolver``'s ``GradientMode/backprop`` with
/// ``ODEGradientSolver/keepsStageEvaluations``). Memory grows with every kept
/// evaluation. A class: the solver keeps one set of holders per field object.
public protocol StageKeepingVectorField<Scalar>: DifferentiableVectorField, AnyObject {
  /// Makes the next ``VectorField/evaluate(_:into:)`` — that one call — keep
  /// itself in `evaluation`.
  func keepNextEvaluation(in evaluation: KeptEvaluation<Scalar>)

  /// Whether every value the kept evaluation holds for its rows
  /// `rows[0 ..< count]` is finite, so that a product over all of its rows
  /// with zero cotangents at those adds exactly nothing for them (and costs no
  /// gathering of the others).
  func keptRowsAreFinite(
    _ evaluation: KeptEvaluation<Scalar>, rows: UnsafePointer<Int>, count: Int
  ) -> Bool

  /// The vector-Jacobian product at rows `rows[0 ..< count]` of the kept
  /// evaluation (every kept row in order when `rows` is nil, `count` being
  /// their number): with `a_k` row `k` of `cotangents`, writes `a_kᵀ ∂f/∂z`
  /// into row `k` of `stateCotangents` and adds `Σ_k a_kᵀ ∂f/∂θ` into
  /// `parameterGradient` — the values ``DifferentiableVectorField/vectorJacobianProduct(_:cotangents:stateCotangents:derivatives:timeCotangents:parameterGradient:)``
  /// gives on a batch of those rows, bit for bit. Consumes the kept
  /// evaluation when `rows` is nil.
  ///
  /// - Precondition: the evaluation holds a pass of this field, not yet
  ///   consumed, and the rows are among its rows.
  func vectorJacobianProduct(
    of evaluation: KeptEvaluation<Scalar>, rows: UnsafePointer<Int>?, count: Int,
    cotangents: MatrixView<Scalar>, stateCotangents: MutableMatrixView<Scalar>,
    parameterGradient: UnsafeMutablePointer<Scalar>)
}
