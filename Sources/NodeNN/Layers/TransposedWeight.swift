import NodeCore

/// A layer's weight `W` `[rows, columns]` transposed, remade only when the
/// weight's bits differ from the last one's: a solve calls a layer many
/// times with one weight, and on small batches (a trainer's chunks) the
/// transposition cost as much as a fifth of the matrix work, while comparing
/// is a `memcmp`.
final class TransposedWeight<Scalar: TensorScalar> {
  private let transposed = ScratchBuffer<Scalar>()
  /// The weight `transposed` was made from.
  private let source = ValueSnapshot<Scalar>()

  /// `Wᵀ` `[columns, rows]` of the row-major `w` `[rows, columns]`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func of(_ w: UnsafePointer<Scalar>, rows: Int, columns: Int) -> UnsafeMutablePointer<Scalar> {
    let count = rows * columns
    let t = transposed.reserve(count)
    if source.holds(w, count: count) { return t }
    for r in 0..<rows {
      let row = w + r &* columns
      for c in 0..<columns { t[c &* rows &+ r] = row[c] }
    }
    source.take(w, count: count)
    return t
  }
}
