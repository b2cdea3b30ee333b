import NodeCore

/// The inputs of one batched vector-field evaluation: a set of samples, each
/// at its own time.
///
/// Row `i` of `states` is the state of sample `sampleIndices[i]` at time
/// `times[i]`. Rows are the integrator's *active* samples in its own order;
/// `sampleIndices` lets a field find per-sample data (e.g. the fixed
/// Hutchinson noise of a CNF) by the identifier the caller gave the sample —
/// its index in the caller's batch unless the caller passed others (such as
/// global data-set indices of a shard).
public struct FieldBatch<Scalar>: @unchecked Sendable {
  /// The number of samples (rows).
  public let count: Int
  /// The time of each row, `count` values.
  public let times: UnsafePointer<Scalar>
  /// The states, `[count, dimension]`.
  public let states: MatrixView<Scalar>
  /// The identifier of each row's sample, `count` values.
  public let sampleIndices: UnsafePointer<Int>

  /// Creates a batch description over memory owned by the caller.
  @inlinable
  public init(
    count: Int, times: UnsafePointer<Scalar>, states: MatrixView<Scalar>,
    sampleIndices: UnsafePointer<Int>
  ) {
    self.count = count
    self.times = times
    self.states = states
    self.sampleIndices = sampleIndices
  }
}

/// The right-hand side `dz/dt = f(t, z)` of an ODE, evaluated for a batch of
/// samples at their own times.
///
/// A field must be *per-sample*: row `i` of the output depends only on row
/// `i` of the input and its time (and the sample's index), never on the other
/// rows or their number. That is what makes a sample's solution independent of
/// its batch-mates. Fields are reference types so they can keep scratch space
/// between calls; an evaluation must not allocate on its hot path.
public protocol VectorField<Scalar>: AnyObject {
  /// The element type.
  associatedtype Scalar: TensorScalar

  /// The number of state elements per sample.
  var dimension: Int { get }

  /// Writes `f(tᵢ, zᵢ)` for every row of `batch` into the first `batch.count`
  /// rows of `derivatives` (`[batch.count, dimension]`, contiguous).
  func evaluate(_ batch: FieldBatch<Scalar>, into derivatives: MutableMatrixView<Scalar>)
}
