import NodeCore

/// im2col and col2im of one convolution geometry over a block of samples
/// side by side: ``SameSizeColumns``' passes when the geometry keeps the
/// map's size (stride 1, `k = 2p + 1`), else the geometry's general ones.
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

  /// Unfolds every row of `x` (samples `[C, H, W]`) side by side into
  /// `columns` `[C·kh·kw, rows·H'·W']`, rows `rowStride` apart. Entries past
  /// the block's pixels are not part of the result: a caller that reads
  /// them zeroes them after the unfold.
  @inline(__always)
  func unfold(_ x: MatrixView<Scalar>, into columns: UnsafeMutablePointer<Scalar>, rowStride: Int) {
    if let sameSize {
      sameSize.unfold(x, into: columns, rowStride: rowStride)
    } else {
      for s in 0..<x.rows {
        geometry.unfold(x.row(s), into: columns + s &* geometry.outputPixels, rowStride: rowStride)
      }
    }
  }

  /// Folds columns `[C·kh·kw, rows·H'·W']` (rows `rowStride` apart) onto
  /// every row of `x` (samples `[C, H, W]`), which it overwrites.
  @inline(__always)
  func fold(_ columns: UnsafePointer<Scalar>, rowStride: Int, into x: MutableMatrixView<Scalar>) {
    if let sameSize {
      sameSize.fold(columns, rowStride: rowStride, into: x)
    } else {
      for s in 0..<x.rows {
        x.row(s).update(repeating: 0, count: geometry.inputSize)
        geometry.fold(
          columns + s &* geometry.outputPixels, addingInto: x.row(s), rowStride: rowStride)
      }
    }
  }
}
