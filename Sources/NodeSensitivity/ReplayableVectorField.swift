import NodeCore
import NodeSolvers

/// One vector-Jacobian product that a ``ReplayableVectorField`` kept: its
/// rows' states, cotangents, times and sample identifiers, and the field's own
/// record of the pass.
public final class KeptProduct<Scalar: TensorScalar> {
  /// The rows of the kept product.
  public private(set) var rows = 0
  /// The state dimension.
  public private(set) var dimension = 0
  private let states = ScratchBuffer<Scalar>()
  private let cotangents = ScratchBuffer<Scalar>()
  private let times = ScratchBuffer<Scalar>()
  private let identifiers = ScratchBuffer<Int>()
  /// The field's record of the pass (e.g. NodeNN's `KeptBackward`), kept
  /// here so that it is made once and reused.
  public var record: AnyObject?

  /// An empty holder.
  public init() {}

  /// The kept rows' states, `[rows, dimension]`.
  public var keptStates: MatrixView<Scalar> {
    MatrixView(base: states.base, rows: rows, columns: dimension)
  }
  /// The kept rows' cotangents, `[rows, dimension]`.
  public var keptCotangents: MatrixView<Scalar> {
    MatrixView(base: cotangents.base, rows: rows, columns: dimension)
  }
  /// The kept rows' times.
  public var keptTimes: UnsafePointer<Scalar> { UnsafePointer(times.base) }

  /// Copies the product's inputs: every row's state, cotangent, time and identifier.
  public func keepInputs(_ batch: FieldBatch<Scalar>, cotangents a: MatrixView<Scalar>) {
    let (n, d) = (batch.count, batch.states.columns)
    (rows, dimension) = (n, d)
    let (z, bars) = (states.reserve(n * d), cotangents.reserve(n * d))
    for r in 0..<n {
      (z + r * d).update(from: batch.states.row(r), count: d)
      (bars + r * d).update(from: a.row(r), count: d)
    }
    times.reserve(n).update(from: batch.times, count: n)
    identifiers.reserve(n).update(from: batch.sampleIndices, count: n)
  }

  /// Whether kept row `r` was evaluated at exactly this state, cotangent,
  /// time and sample identifier (bit for bit: a per-sample field then gives
  /// it the same values).
  public func holds(
    row r: Int, state z: UnsafePointer<Scalar>, cotangent a: UnsafePointer<Scalar>, time t: Scalar,
    identifier: Int
  ) -> Bool {
    guard r >= 0 && r < rows && identifiers.base[r] == identifier else { return false }
    var time = t
    return sameBits(times.base + r, &time, count: 1)
      && sameBits(states.base + r * dimension, z, count: dimension)
      && sameBits(cotangents.base + r * dimension, a, count: dimension)
  }
}

/// A field that can keep one vector-Jacobian product and later add the
/// parameter gradient of some of its rows again, with other row weights,
/// without evaluating the field: the adjoint's first-same-as-last stage,
/// whose weight `b₁ h` is known only a step after its evaluation
/// (``ParameterIntegralObserver``).
public protocol ReplayableVectorField<Scalar>: DifferentiableVectorField {
  /// Two holders the field reuses from one backward pass to the next.
  var keptProducts: [KeptProduct<Scalar>] { get }

  /// Makes the next ``DifferentiableVectorField/vectorJacobianProduct(_:cotangents:stateCotangents:derivatives:timeCotangents:parameterGradient:)``
  /// — that one call — keep itself in `product`.
  func keepNextProduct(in product: KeptProduct<Scalar>)

  /// Adds `Σ_k w_k a_{r_k}ᵀ ∂f/∂θ` over the kept rows `r_k = rows[k]` (every
  /// kept row in order when `rows` is nil), exactly as the kept product would
  /// have added it with those rows and weights, into `gradient`.
  func replayParameterGradient(
    of product: KeptProduct<Scalar>, rows: UnsafePointer<Int>?, count: Int,
    rowWeights: UnsafePointer<Scalar>, into gradient: UnsafeMutablePointer<Scalar>)
}
