import NodeCore

/// im2col and col2im of one convolution geometry: ``SameSizeColumns``'
/// branch-free passes when the geometry keeps the map's size (stride 1,
/// `k = 2p + 1`), else the geometry's general ones.
struct ConvolutionColumns<Scalar: TensorScalar> {
  /// The convolution.
  let geometry: ConvolutionGeometry
  private let sameSize: SameSizeColumns<Scalar>?

  /// The columns of `geometry`.
  init(_ geometry: ConvolutionGeometry) {
    self.geometry = geometry
    sameSize = SameSizeColumns(geometry)
  }

  /// Whether the geometry keeps the map's size (stride 1, `k = 2p + 1`).
  var keepsSize: Bool { sameSize != nil }

  /// Unfolds one sample `[C, H, W]` into `columns` `[C·kh·kw, H'·W']`, rows
  /// `rowStride` apart.
  @inline(__always)
  func unfold(
    _ x: UnsafePointer<Scalar>, into columns: UnsafeMutablePointer<Scalar>, rowStride: Int
  ) {
    if let sameSize {
      sameSize.unfold(x, into: columns, rowStride: rowStride)
    } else {
      geometry.unfold(x, into: columns, rowStride: rowStride)
    }
  }

  /// Folds columns `[C·kh·kw, H'·W']` (rows `rowStride` apart) onto one
  /// sample `[C, H, W]`, which it overwrites.
  @inline(__always)
  func fold(
    _ columns: UnsafePointer<Scalar>, rowStride: Int, into x: UnsafeMutablePointer<Scalar>
  ) {
    if let sameSize {
      sameSize.fold(columns, rowStride: rowStride, into: x)
    } else {
      x.update(repeating: 0, count: geometry.inputSize)
      geometry.fold(columns, addingInto: x, rowStride: rowStride)
    }
  }
}
