import NodeCore

/// The `Float` products of convolutions with sixteen samples in the vector
/// lanes, on CPUs with AVX-512 (``LaneConvolutionKernels``): the forward
/// product, the input cotangents and the weight gradient, for any stride and
/// padding and up to 49 taps, without im2col.
///
/// A group's rows are transposed so that each vector holds one value of 16
/// samples; a tap over the border, outside for all 16 at once, is skipped.
/// Every lane's arithmetic is its own, so a sample's outputs and input
/// cotangents are bitwise the same whatever its batch-mates and its place in
/// a group (a short last group is padded with zero lanes).
extension Conv2d {
  /// Whether the products go through the lane kernels: `Float` on a CPU with
  /// AVX-512, at most ``LaneConvolutionKernels/maximumTaps`` taps — a
  /// property of the layer alone, never of the batch.
  var usesLaneKernel: Bool {
    laneKernelEnabled && LaneConvolutionKernels.run(for: Scalar.self)
      && geometry.kernelHeight * geometry.kernelWidth <= LaneConvolutionKernels.maximumTaps
  }

  /// Samples per group of the lane layout.
  static var laneWidth: Int { LaneConvolutionKernels.laneWidth }

  /// Calls `body(first, count)` for the groups of 16 samples (the last may be
  /// shorter) of `samples` rows.
  func forEachGroup(of samples: Int, _ body: (Int, Int) -> Void) {
    forEachBlock(of: samples, size: Self.laneWidth, body)
  }

  /// `y = W ⋆ x (+ b)` of `rows` samples, group by group, where
  /// `gather` writes a group's inputs in the lane layout.
  func convolveInLanes(
    rows: Int, parameters: UnsafePointer<Scalar>, bias: Bool, into y: MutableMatrixView<Scalar>,
    gather: LaneGather
  ) {
    guard rows > 0 else { return }
    let g = geometry
    let (pixels, outputs, channels) = (g.outputPixels, g.outputChannels, g.inputChannels)
    let weight = tapMajorWeight.of(
      parameters, outputs: outputs, channels: channels, taps: laneMap.taps)
    let lanes = laneInputs.reserve(g.inputSize &* Self.laneWidth)
    let out = blockOutputs.reserve(g.outputSize &* Self.laneWidth)
    // The bias of every output value, `b[o]` over its plane.
    var shifts: UnsafeMutablePointer<Scalar>? = nil
    if bias {
      let b = parameters + outputs * g.patchSize
      let expanded = expandedBias.reserve(g.outputSize)
      for o in 0..<outputs { (expanded + o &* pixels).update(repeating: b[o], count: pixels) }
      shifts = expanded
    }
    forEachGroup(of: rows) { first, count in
      gather(first, count, lanes)
      LaneConvolutionKernels.convolve(
        laneMap, lanes: lanes, groups: 1, channels: channels, tapMajorWeight: weight,
        outputs: outputs, into: out)
      LaneConvolutionKernels.fromLanes(
        out, width: g.outputSize, adding: shifts, into: y.rows(from: first, count: count))
    }
  }

  /// The input cotangents `Wᵀ ⋆ dY` of `rows` samples, group by
  /// group, through the transposed map (each input pixel gets the terms of
  /// the output pixels that read it, the kernel turned round), handed to
  /// `scatter` in the lane layout.
  func inputCotangentsInLanes(
    rows: Int, parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    scatter: LaneScatter
  ) {
    guard rows > 0 else { return }
    let g = geometry
    let (outputs, channels) = (g.outputChannels, g.inputChannels)
    let weight = transposedTapMajorWeight.of(
      parameters, outputs: outputs, channels: channels, taps: laneMap.taps)
    let bars = blockCotangents.reserve(g.outputSize &* Self.laneWidth)
    let inputBars = laneInputs.reserve(g.inputSize &* Self.laneWidth)
    forEachGroup(of: rows) { first, count in
      LaneConvolutionKernels.toLanes(
        dy.rows(from: first, count: count), width: g.outputSize, into: bars)
      LaneConvolutionKernels.convolve(
        laneMap.transposedMap!, lanes: bars, groups: 1, channels: outputs,
        tapMajorWeight: weight, outputs: channels, into: inputBars)
      scatter(first, count, inputBars)
    }
  }

  /// Adds the weighted `dW`, `db` of `rows` samples, block by block of
  /// groups of 16 (``laneBudget``): `gather` writes the inputs, the
  /// cotangents are `dy` times the row weights.
  func accumulateWeightGradientInLanes(
    rows: Int, outputCotangent dy: MatrixView<Scalar>, rowWeights: UnsafePointer<Scalar>?,
    into gradient: UnsafeMutablePointer<Scalar>, gather: LaneGather
  ) {
    let g = geometry
    let (inputWidth, outputWidth) = (g.inputSize &* Self.laneWidth, g.outputSize &* Self.laneWidth)
    let groupsPerBlock = max(1, laneBudget / (inputWidth + outputWidth))
    let biasGradient = hasBias ? gradient + g.outputChannels * g.patchSize : nil
    forEachBlock(of: rows, size: groupsPerBlock &* Self.laneWidth) { first, count in
      let groups = (count + Self.laneWidth - 1) / Self.laneWidth
      let lanes = laneInputs.reserve(groups &* inputWidth)
      let bars = blockCotangents.reserve(groups &* outputWidth)
      var group = 0
      forEachGroup(of: count) { offset, size in
        gather(first + offset, size, lanes + group &* inputWidth)
        LaneConvolutionKernels.toLanes(
          dy.rows(from: first + offset, count: size), width: g.outputSize,
          scales: rowWeights.map { $0 + first + offset }, into: bars + group &* outputWidth)
        group += 1
      }
      LaneConvolutionKernels.accumulateWeightGradient(
        laneMap, lanes: lanes, cotangentLanes: bars, groups: groups, channels: g.inputChannels,
        outputs: g.outputChannels, into: gradient, biasGradient: biasGradient)
    }
  }
}
