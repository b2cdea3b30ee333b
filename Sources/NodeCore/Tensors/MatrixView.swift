/// A read-only view of a row-major matrix in memory owned by someone else.
///
/// Vector fields and kernels receive batches as matrix views: row `i` is
/// sample `i`, its `columns` elements contiguous, rows `rowStride` apart.
public struct MatrixView<Scalar>: @unchecked Sendable {
  /// The first element of row 0.
  public let base: UnsafePointer<Scalar>
  /// The number of rows (samples).
  public let rows: Int
  /// The number of columns (elements per sample).
  public let columns: Int
  /// The distance between the starts of consecutive rows, in elements.
  public let rowStride: Int

  /// Creates a view; `rowStride` defaults to `columns` (contiguous rows).
  @inlinable
  public init(base: UnsafePointer<Scalar>, rows: Int, columns: Int, rowStride: Int? = nil) {
    self.base = base
    self.rows = rows
    self.columns = columns
    self.rowStride = rowStride ?? columns
  }

  /// The first element of row `i`.
  @inlinable
  public func row(_ i: Int) -> UnsafePointer<Scalar> { base + i * rowStride }

  /// Rows `first ..< first + count` as a view of their own.
  ///
  /// - Precondition: the rows lie within `0 ..< rows`.
  @inlinable
  public func rows(from first: Int, count: Int) -> MatrixView<Scalar> {
    precondition(first >= 0 && count >= 0 && first + count <= rows, "rows outside the view")
    return MatrixView(base: row(first), rows: count, columns: columns, rowStride: rowStride)
  }
}

/// A mutable view of a row-major matrix in memory owned by someone else.
public struct MutableMatrixView<Scalar>: @unchecked Sendable {
  /// The first element of row 0.
  public let base: UnsafeMutablePointer<Scalar>
  /// The number of rows (samples).
  public let rows: Int
  /// The number of columns (elements per sample).
  public let columns: Int
  /// The distance between the starts of consecutive rows, in elements.
  public let rowStride: Int

  /// Creates a view; `rowStride` defaults to `columns` (contiguous rows).
  @inlinable
  public init(
    base: UnsafeMutablePointer<Scalar>, rows: Int, columns: Int, rowStride: Int? = nil
  ) {
    self.base = base
    self.rows = rows
    self.columns = columns
    self.rowStride = rowStride ?? columns
  }

  /// The first element of row `i`.
  @inlinable
  public func row(_ i: Int) -> UnsafeMutablePointer<Scalar> { base + i * rowStride }

  /// Rows `first ..< first + count` as a view of their own.
  ///
  /// - Precondition: the rows lie within `0 ..< rows`.
  @inlinable
  public func rows(from first: Int, count: Int) -> MutableMatrixView<Scalar> {
    precondition(first >= 0 && count >= 0 && first + count <= rows, "rows outside the view")
    return MutableMatrixView(base: row(first), rows: count, columns: columns, rowStride: rowStride)
  }

  /// The same matrix, read-only.
  @inlinable
  public var readOnly: MatrixView<Scalar> {
    MatrixView(base: base, rows: rows, columns: columns, rowStride: rowStride)
  }
}
