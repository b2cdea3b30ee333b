import NodeCore

/// The `Float` products of same-size convolutions (the ODE block's) without
/// im2col or col2im, on CPUs with AVX-512: the forward product and the input
/// cotangents. Groups of 16 samples go through the lane kernels
/// (`Conv2d+LaneKernel.swift`); a short last group, where that costs fewer
/// multiply-adds, through ``SameSizeColumnKernels``'s strip kernel: a
/// block's input planes are copied side by side (a ninth of what its columns
/// would take) and each 16-pixel strip of the output reads them shifted by a
/// tap, the lanes whose tap leaves their own sample's plane masked off.
///
/// Each output sums its terms from +0 with the taps outermost, one fused
/// multiply-add each, in both kernels (a masked tap adds `w · (+0)`, which
/// leaves the sum's bits as they are), so a sample's values never depend on
/// its batch-mates, on where the groups and blocks fall or on which kernel
/// takes it. The order differs from the im2col path's (channels outermost):
/// the two agree to rounding.
extension Conv2d {
  /// Whether the products go through the implicit kernel: a size-keeping
  /// `Float` geometry on a CPU with AVX-512, like ``usesDenseKernel`` a
  /// property of the layer alone, never of the batch.
  var usesImplicitKernel: Bool {
    guard implicitKernelEnabled, usesDenseKernel,
      SameSizeColumnKernels.convolvesImplicitly(for: Scalar.self),
      let table = im2col.sameSizeTable
    else { return false }
    return table.taps <= SameSizeColumnKernels.maximumImplicitTaps
  }

  /// The most input values per block (128 KB of `Float`: the planes stay in L2).
  static var planeBudget: Int { 1 << 15 }

  /// Floats before and after the planes: the kernel forms addresses up to a
  /// strip (16) plus a tap's shift beyond the block, though it reads none of them.
  private var planeMargin: Int {
    ((im2col.sameSizeTable?.reach ?? 0) + 16 + 15) & ~15
  }

  /// ``convolve(rows:parameters:bias:into:unfold:gather:laneGather:)`` through the
  /// implicit kernels: the lane kernel over groups of 16 samples (taps over
  /// the border skipped), then the strip kernel block by block for the rows
  /// left over.
  func convolveImplicitly(
    rows: Int, parameters: UnsafePointer<Scalar>, bias: Bool, into y: MutableMatrixView<Scalar>,
    gather: PlaneGather, laneGather: LaneGather
  ) {
    let g = geometry
    let table = im2col.sameSizeTable!
    let (pixels, outputs, channels) = (g.outputPixels, g.outputChannels, g.inputChannels)
    let weight = tapMajorWeight.of(
      parameters, outputs: outputs, channels: channels, taps: table.taps)
    let b = parameters + outputs * g.patchSize
    let laneRows = laneSamples(of: rows)
    convolveInLanes(rows: laneRows, parameters: parameters, bias: bias, into: y, gather: laneGather)
    let margin = planeMargin
    let size = max(1, Self.planeBudget / max(1, g.inputSize))
    forEachBlock(of: rows - laneRows, size: size) { offset, count in
      let first = laneRows + offset
      let used = count &* pixels
      let planes = blockPlanes.reserve(channels &* used &+ 2 &* margin) + margin
      gather(first, count, planes, used)
      let ld = (used + 15) & ~15
      let out = blockOutputs.reserve(outputs &* ld)
      SameSizeColumnKernels.convolve(
        table, planes: planes, planeStride: used, samples: count, channels: channels,
        tapMajorWeight: weight, outputs: outputs, into: out, rowStride: ld)
      scatter(out, rowStride: ld, first: first, count: count, bias: bias ? b : nil, into: y)
    }
  }

  /// The input cotangents `Wᵀ ⋆ dY` of every sample through the implicit
  /// kernels, as in ``convolveImplicitly(rows:parameters:bias:into:gather:laneGather:)``:
  /// the transposed convolution of a size-keeping
  /// map is the convolution of `dY` with the kernel reversed and its channel
  /// roles swapped, and a reversed tap at pixel `q` lies inside the plane
  /// exactly where the tap it mirrors reaches `q` from inside. (This needs
  /// the square kernel and symmetric padding that ``SameSizeTapTable``
  /// builds: reversing such a kernel negates every tap's shift.) A group's
  /// cotangents go to `laneScatter` in the lane layout, a strip block's to
  /// `scatter`, planes side by side.
  func inputCotangentsImplicitly(
    rows: Int, parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    scatter: PlaneScatter, laneScatter: LaneScatter
  ) {
    let g = geometry
    let table = im2col.sameSizeTable!
    let (pixels, outputs, channels) = (g.outputPixels, g.outputChannels, g.inputChannels)
    let weight = transposedTapMajorWeight.of(
      parameters, outputs: outputs, channels: channels, taps: table.taps, transposed: true)
    let laneRows = laneSamples(of: rows)
    inputCotangentsInLanes(
      rows: laneRows, parameters: parameters, outputCotangent: dy, scatter: laneScatter)
    let margin = planeMargin
    let size = max(1, Self.planeBudget / max(1, g.outputSize))
    forEachBlock(of: rows - laneRows, size: size) { offset, count in
      let first = laneRows + offset
      let used = count &* pixels
      let bars = blockCotangents.reserve(outputs &* used &+ 2 &* margin) + margin
      sideBySide(dy, first: first, count: count, weights: nil, into: bars, rowStride: used)
      let ld = (used + 15) & ~15
      let inputBars = blockPlanes.reserve(channels &* ld)
      SameSizeColumnKernels.convolve(
        table, planes: bars, planeStride: used, samples: count, channels: outputs,
        tapMajorWeight: weight, outputs: channels, into: inputBars, rowStride: ld)
      scatter(first, count, inputBars, ld)
    }
  }

  /// Copies planes side by side (channel `c` of row `s` at
  /// `planes + c · planeStride + s · pixels`) into the first `channels`
  /// planes of every row of `x`: the inverse of
  /// ``copyPlanes(of:channels:pixels:into:planeStride:)``.
  static func copyPlanes(
    _ planes: UnsafePointer<Scalar>, planeStride: Int, channels: Int, pixels: Int,
    into x: MutableMatrixView<Scalar>
  ) {
    for s in 0..<x.rows {
      let row = x.row(s)
      for c in 0..<channels {
        (row + c &* pixels).update(from: planes + (c &* planeStride &+ s &* pixels), count: pixels)
      }
    }
  }

  /// Copies the first `channels` planes of `pixels` of every row of `x` side
  /// by side: channel `c` of row `s` to `planes + c · planeStride + s · pixels`.
  static func copyPlanes(
    of x: MatrixView<Scalar>, channels: Int, pixels: Int, into planes: UnsafeMutablePointer<Scalar>,
    planeStride: Int
  ) {
    for s in 0..<x.rows {
      let row = x.row(s)
      for c in 0..<channels {
        (planes + (c &* planeStride &+ s &* pixels)).update(from: row + c &* pixels, count: pixels)
      }
    }
  }
}
