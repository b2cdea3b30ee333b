/// A dense, contiguous, row-major tensor of `Float` or `Double`.
///
/// `Tensor` is a value type with copy-on-write storage (a Swift array). Hot
/// loops do not index it element by element: they take its storage once with
/// ``withUnsafeBufferPointer(_:)`` or ``withUnsafeMutableBufferPointer(_:)``
/// and work on raw pointers, so nothing is allocated or bounds-checked inside.
public struct Tensor<Scalar: TensorScalar>: Sendable {
  /// The extent of each dimension, outermost first.
  public private(set) var shape: [Int]
  /// The elements in row-major order; `scalars.count` is the product of `shape`.
  @usableFromInline var storage: [Scalar]

  /// The elements in row-major order; `scalars.count` is the product of `shape`.
  public var scalars: [Scalar] { storage }

  /// Creates a tensor of the given shape with every element set to `value`.
  public init(shape: [Int], repeating value: Scalar = 0) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative extent")
    self.shape = shape
    self.storage = [Scalar](repeating: value, count: shape.reduce(1, *))
  }

  /// Creates a tensor from row-major elements.
  ///
  /// - Precondition: `scalars.count` equals the product of `shape`.
  public init(shape: [Int], scalars: [Scalar]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative extent")
    precondition(
      scalars.count == shape.reduce(1, *),
      "Tensor shape \(shape) needs \(shape.reduce(1, *)) elements, got \(scalars.count)")
    self.shape = shape
    self.storage = scalars
  }

  /// The number of dimensions.
  public var rank: Int { shape.count }

  /// The number of elements.
  public var count: Int { scalars.count }

  /// The element at a multi-dimensional index (slow path, for tests and setup).
  public subscript(_ index: Int...) -> Scalar {
    get { storage[offset(of: index)] }
    set { storage[offset(of: index)] = newValue }
  }

  /// The row-major offset of a full index.
  public func offset(of index: [Int]) -> Int {
    precondition(index.count == shape.count, "index \(index) does not match shape \(shape)")
    var offset = 0
    for (i, extent) in zip(index, shape) {
      precondition(i >= 0 && i < extent, "index \(index) is out of bounds for shape \(shape)")
      offset = offset * extent + i
    }
    return offset
  }

  /// The same elements under another shape with the same element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    Tensor(shape: newShape, scalars: scalars)
  }

  /// The elements of row `i` of a tensor viewed as `[shape[0], rest]`.
  public func row(_ i: Int) -> ArraySlice<Scalar> {
    precondition(
      rank >= 1 && i >= 0 && i < shape[0], "row \(i) is out of bounds for shape \(shape)")
    let width = shape.dropFirst().reduce(1, *)
    return scalars[(i * width)..<((i + 1) * width)]
  }

  /// The tensor with every element converted to another precision.
  public func converted<Other: TensorScalar>(to _: Other.Type = Other.self) -> Tensor<Other> {
    Tensor<Other>(shape: shape, scalars: scalars.map { Other($0) })
  }

  /// Calls `body` with the contiguous elements.
  @inlinable
  public func withUnsafeBufferPointer<R>(
    _ body: (UnsafeBufferPointer<Scalar>) throws -> R
  ) rethrows -> R {
    try storage.withUnsafeBufferPointer(body)
  }

  /// Calls `body` with the contiguous elements, mutable.
  @inlinable
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (inout UnsafeMutableBufferPointer<Scalar>) throws -> R
  ) rethrows -> R {
    try storage.withUnsafeMutableBufferPointer(body)
  }

  /// Whether both tensors have the same shape and the same bits in every
  /// element (unlike `==`, NaNs with equal payloads match and `0 != -0`).
  public func isBitwiseIdentical(to other: Tensor) -> Bool {
    shape == other.shape
      && zip(scalars, other.scalars).allSatisfy { $0.comparableBits == $1.comparableBits }
  }
}

extension Tensor: Equatable {
  /// Shapes equal and elements equal under floating-point `==`.
  public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
    lhs.shape == rhs.shape && lhs.scalars == rhs.scalars
  }
}

extension BinaryFloatingPoint where RawSignificand: FixedWidthInteger {
  /// The raw bits of the value, for bitwise comparisons.
  @usableFromInline var comparableBits: UInt64 {
    UInt64(exponentBitPattern) << Self.significandBitCount | UInt64(significandBitPattern)
      | (sign == .minus ? 1 << 63 : 0)
  }
}
