import NodeCore

/// A chain of layers with its parameters in one flat buffer, in layer order.
///
/// ``forward(_:times:parameters:into:streamingFusedOutputs:)`` keeps every layer's output;
/// ``backward(times:parameters:outputCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``
/// and ``jvp(times:parameters:inputTangents:directions:into:streamingFusedOutputs:)`` then run on
/// that forward pass (call them after it, with the same times and parameters).
/// Not thread-safe: it owns its activations. Its passes are specialised for
/// `Float` and `Double` (`@_specialize`): its callers sit in other modules,
/// which would otherwise run the generic code, looking up type metadata and
/// retaining through value witnesses at every call.
public final class Sequential<Scalar: TensorScalar> {
  /// The layers, first to last.
  public let layers: [any Layer<Scalar>]
  /// The name prefix of each layer's parameters (nil: a layer without parameters).
  public let names: [String?]
  /// Each layer's first parameter in the flat buffer.
  public let parameterOffsets: [Int]
  /// The total number of parameters.
  public let parameterCount: Int
  /// The input size of the first layer.
  public let inputSize: Int
  /// The output size of the last layer.
  public let outputSize: Int
  var input = MatrixView<Scalar>(base: UnsafePointer(bitPattern: 8)!, rows: 0, columns: 0)
  /// Each layer's output in the last forward pass.
  var outputs: [ScratchBuffer<Scalar>]
  /// The input of the last flat-array forward pass, kept for the backward
  /// pass, or of a restored ``KeptPass``.
  let ownedInput = ScratchBuffer<Scalar>()
  /// The input tangents of a restored ``KeptPass``.
  let ownedInputTangents = ScratchBuffer<Scalar>()
  private let cotangents = (ScratchBuffer<Scalar>(), ScratchBuffer<Scalar>())
  /// Layer `l`'s input cotangent in the last backward pass (`l ≥ 1`; layer
  /// 0's goes to the caller) when ``keepsEveryCotangent``: one buffer per
  /// layer, so that every layer's output cotangent survives the pass.
  var inputCotangents: [ScratchBuffer<Scalar>]
  /// Layer `l`'s input tangents' cotangent in the last JVP backward pass, as
  /// ``inputCotangents`` (``keepLastJVPBackward(in:)``).
  var inputTangentCotangents: [ScratchBuffer<Scalar>]
  /// Whether backward passes keep every layer's cotangents in its own buffer,
  /// as ``keepLastBackward(in:)`` needs (otherwise two
  /// buffers alternate); set after a forward pass, cleared by the next one.
  public var keepsEveryCotangent = false
  /// Whether a backward pass that kept every cotangent ran on the kept forward pass.
  var backwardKeptEveryCotangent = false
  /// Whether each layer has parameters (read per replay without building
  /// the layers' parameter lists).
  let layerHasParameters: [Bool]
  /// Whether a kept backward pass can be replayed: every layer with
  /// parameters computes their gradient from its operands alone
  /// (``Layer/parameterGradientNeedsOnlyOperands``).
  public let canReplayBackward: Bool
  var tangentOutputs: [ScratchBuffer<Scalar>]
  var inputTangents = MatrixView<Scalar>(
    base: UnsafePointer(bitPattern: 8)!, rows: 0, columns: 0)
  var directions = 0
  /// Whether the last JVP ran on the current forward pass.
  var tangentsAreCurrent = false
  private let tangentCotangents = (ScratchBuffer<Scalar>(), ScratchBuffer<Scalar>())
  var rows = 0
  /// Whether the outputs of the last pass are all kept (``forward(_:times:parameters:into:streamingFusedOutputs:)``,
  /// not ``evaluate(_:times:parameters:into:)``), as backward passes and JVPs
  /// need; ``keepLastBackward(in:)`` hands them over and clears it.
  var keepsLastOutput = false
  /// Layer `l`'s concat-squash layer when a tanh follows it: forward, JVP and
  /// the JVP's backward pass run the pair as one step, the tanh's
  /// element-wise work inside the layer's gate pass (the same arithmetic;
  /// both layers' outputs are still written, though a ``KeptPass`` holds
  /// only the first's).
  private let tanhFollowed: [ConcatSquashLinear<Scalar>?]
  /// Whether layer `l` is the tanh of such a pair: its output `tanh(y)` and
  /// output tangents `(1 − y²) ẏ` follow from the pair's kept `y` and `ẏ`, so
  /// a kept pass does not hold them (``keepLastPass(in:)``,
  /// ``restorePass(_:rows:count:)``).
  let isDerivedTanh: [Bool]
  /// Each layer as a ``TangentDifferentiableLayer``, nil where it is not:
  /// cast once here, since a cast to a parameterised protocol's existential
  /// is a runtime lookup (1.2 % of a W1 iteration when cast per pass).
  private let tangentDifferentiableLayers: [(any TangentDifferentiableLayer<Scalar>)?]
  /// Whether every layer differentiates its JVP (``TangentDifferentiableLayer``).
  public let isTangentDifferentiable: Bool

  /// Chains `layers`; `names[i]` prefixes layer `i`'s parameter names (e.g. `"layers.0"`).
  ///
  /// - Precondition: consecutive sizes chain; one name per layer.
  public init(_ layers: [any Layer<Scalar>], names: [String?]) {
    precondition(!layers.isEmpty && layers.count == names.count, "one name per layer")
    for (a, b) in zip(layers, layers.dropFirst()) {
      precondition(
        a.outputSize == b.inputSize, "layer sizes do not chain: \(a.outputSize) then \(b.inputSize)"
      )
    }
    self.layers = layers
    self.names = names
    var offsets: [Int] = []
    var total = 0
    for layer in layers {
      offsets.append(total)
      total += layer.parameterCount
    }
    parameterOffsets = offsets
    parameterCount = total
    // Stored, not read through the existential array: a generic read of
    // `[any Layer<Scalar>]` looks up the existential's metadata every time.
    inputSize = layers[0].inputSize
    outputSize = layers[layers.count - 1].outputSize
    outputs = layers.map { _ in ScratchBuffer<Scalar>() }
    inputCotangents = layers.map { _ in ScratchBuffer<Scalar>() }
    inputTangentCotangents = layers.map { _ in ScratchBuffer<Scalar>() }
    layerHasParameters = layers.map { $0.parameterCount > 0 }
    canReplayBackward = layers.allSatisfy {
      $0.parameterCount == 0 || $0.parameterGradientNeedsOnlyOperands
    }
    tangentOutputs = layers.map { _ in ScratchBuffer<Scalar>() }
    tangentDifferentiableLayers = layers.map { $0 as? any TangentDifferentiableLayer<Scalar> }
    isTangentDifferentiable = tangentDifferentiableLayers.allSatisfy { $0 != nil }
    let tanhFollowed: [ConcatSquashLinear<Scalar>?] = layers.indices.map { l in
      guard l + 1 < layers.count, let next = layers[l + 1] as? ElementwiseActivation<Scalar>,
        next.function == .tanh
      else { return nil }
      return layers[l] as? ConcatSquashLinear<Scalar>
    }
    self.tanhFollowed = tanhFollowed
    isDerivedTanh = layers.indices.map { l in l > 0 && tanhFollowed[l - 1] != nil }
  }

  /// Every parameter tensor: its full name, offset in the flat buffer and shape.
  public var namedParameters: [(name: String, offset: Int, shape: [Int])] {
    var result: [(String, Int, [Int])] = []
    for (l, layer) in layers.enumerated() {
      var offset = parameterOffsets[l]
      for tensor in layer.parameterTensors {
        let prefix = names[l].map { $0 + "." } ?? ""
        result.append((prefix + tensor.name, offset, tensor.shape))
        offset += tensor.count
      }
    }
    return result
  }

  /// Each parameter tensor's range in the flat buffer, in order.
  public var parameterRanges: [Range<Int>] {
    namedParameters.map { $0.offset..<($0.offset + $0.shape.reduce(1, *)) }
  }

  /// Runs the chain on `x` and keeps each layer's output; writes the last into `y`.
  ///
  /// - Parameter streamingFusedOutputs: the pass is kept for a backward pass
  ///   much later (``keepLastPass(in:)``), so the concat-squash layers fused
  ///   with their tanh write their own outputs with streaming stores
  ///   (``RowGate/streamsOutput``; the same values). Leave it off when a
  ///   backward pass follows at once: it would read them from memory.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func forward(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>, streamingFusedOutputs: Bool = false
  ) {
    let last = run(
      x, times: times, parameters: parameters, lastInto: nil, streaming: streamingFusedOutputs)
    for r in 0..<rows {
      let (source, target) = (last.row(r), y.row(r))
      for i in 0..<outputSize { target[i] = source[i] }
    }
    keepsLastOutput = true
  }

  /// Runs the chain on `x` into `y` for an evaluation that no backward pass
  /// or JVP follows (a forward solve's stages): the last layer writes into
  /// `y` itself instead of into a kept output that would then be copied.
  /// A backward pass or JVP needs ``forward(_:times:parameters:into:streamingFusedOutputs:)`` first.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func evaluate(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    into y: MutableMatrixView<Scalar>
  ) {
    _ = run(x, times: times, parameters: parameters, lastInto: y, streaming: false)
    keepsLastOutput = false
  }

  /// The layers in order on `x` (a concat-squash layer and its tanh as one
  /// step), each output kept, except that the last goes to `lastInto` when
  /// given; returns the last output. `streaming`: see ``forward(_:times:parameters:into:streamingFusedOutputs:)``.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func run(
    _ x: MatrixView<Scalar>, times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    lastInto: MutableMatrixView<Scalar>?, streaming: Bool
  ) -> MatrixView<Scalar> {
    input = x
    rows = x.rows
    keepsEveryCotangent = false
    backwardKeptEveryCotangent = false
    tangentsAreCurrent = false
    var current = x
    var l = 0
    while l < layers.count {
      let layer = layers[l]
      let fused = tanhFollowed[l]
      let isLast = l + (fused == nil ? 1 : 2) == layers.count
      // The step's own result: the layer's output, or its tanh's when fused.
      let result = isLast ? lastInto : nil
      let kept = MutableMatrixView(
        base: outputs[l].reserve(rows * layer.outputSize), rows: rows, columns: layer.outputSize)
      let view = fused == nil ? result ?? kept : kept
      if let fused {
        // The concat-squash layer and its tanh in one pass over each row tile.
        let activated =
          result
          ?? MutableMatrixView(
            base: outputs[l + 1].reserve(rows * layer.outputSize), rows: rows,
            columns: layer.outputSize)
        fused.forward(
          current, times: times, parameters: parameters + parameterOffsets[l], into: view,
          activated: activated, streamingOutput: streaming)
        current = activated.readOnly
        l += 2
        continue
      }
      layer.forward(current, times: times, parameters: parameters + parameterOffsets[l], into: view)
      current = view.readOnly
      l += 1
    }
    return current
  }

  /// Runs the chain on `rows` rows of flat `input` (see
  /// ``forward(_:times:parameters:into:streamingFusedOutputs:)``) and returns the flat outputs.
  ///
  /// The chain keeps its own copy of `input`, so ``backward(times:parameters:outputCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``
  /// may follow whatever becomes of the caller's array.
  public func forward(_ input: [Scalar], rows: Int, times: [Scalar], parameters: [Scalar])
    -> [Scalar]
  {
    precondition(input.count == rows * inputSize, "\(rows) rows of \(inputSize) inputs expected")
    let owned = ownedInput.reserve(input.count)
    input.withUnsafeBufferPointer { owned.update(from: $0.baseAddress!, count: input.count) }
    var output = [Scalar](repeating: 0, count: rows * outputSize)
    output.withUnsafeMutableBufferPointer { y in
      forward(
        MatrixView(base: owned, rows: rows, columns: inputSize), times: times,
        parameters: parameters,
        into: MutableMatrixView(base: y.baseAddress!, rows: rows, columns: outputSize))
    }
    return output
  }

  /// The input to layer `l` and its output in the last forward pass.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func activations(_ l: Int) -> (MatrixView<Scalar>, MatrixView<Scalar>) {
    let x =
      l == 0
      ? input : MatrixView(base: outputs[l - 1].base, rows: rows, columns: layers[l].inputSize)
    return (x, MatrixView(base: outputs[l].base, rows: rows, columns: layers[l].outputSize))
  }

  /// The vector-Jacobian product of the last forward pass (see ``Layer``):
  /// input cotangents into `dx`, time cotangents **added** into
  /// `timeCotangents`, weighted parameter gradients **added** into `parameterGradient`.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func backward(
    times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    outputCotangent dy: MatrixView<Scalar>, inputCotangent dx: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    precondition(keepsLastOutput, "a backward pass needs forward(_:…) first, not evaluate(_:…)")
    var upstream = dy
    var flip = false
    for l in stride(from: layers.count - 1, through: 0, by: -1) {
      let layer = layers[l]
      let (x, y) = activations(l)
      let target: MutableMatrixView<Scalar>?
      if l == 0 {
        target = dx
      } else {
        let buffer = (keepsEveryCotangent ? inputCotangents[l] : flip ? cotangents.1 : cotangents.0)
          .reserve(rows * layer.inputSize)
        target = MutableMatrixView(base: buffer, rows: rows, columns: layer.inputSize)
      }
      layer.backward(
        x, output: y, times: times, parameters: parameters + parameterOffsets[l],
        outputCotangent: upstream, inputCotangent: target, timeCotangents: timeCotangents,
        parameterGradient: parameterGradient.map { $0 + parameterOffsets[l] },
        rowWeights: rowWeights)
      if let target {
        upstream = MatrixView(
          base: target.base, rows: rows, columns: layer.inputSize, rowStride: target.rowStride)
      }
      flip.toggle()
    }
    backwardKeptEveryCotangent = keepsEveryCotangent
  }

  /// The Jacobian-vector product of the last forward pass in `directions`
  /// directions (row `r` of the tangents holds them one after another). Keeps
  /// every layer's tangents for ``jvpBackward(times:parameters:outputCotangent:tangentCotangent:inputCotangent:timeCotangents:parameterGradient:rowWeights:)``.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvp(
    times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    inputTangents: MatrixView<Scalar>, directions: Int, into result: MutableMatrixView<Scalar>,
    streamingFusedOutputs: Bool = false
  ) {
    precondition(keepsLastOutput, "a JVP needs forward(_:…) first, not evaluate(_:…)")
    self.inputTangents = inputTangents
    self.directions = directions
    tangentsAreCurrent = true
    var current = inputTangents
    var l = 0
    while l < layers.count {
      let layer = layers[l]
      let (x, y) = activations(l)
      let width = directions * layer.outputSize
      let buffer = tangentOutputs[l].reserve(rows * width)
      let target = MutableMatrixView(base: buffer, rows: rows, columns: width)
      if let fused = tanhFollowed[l] {
        let activated = tangentOutputs[l + 1].reserve(rows * width)
        fused.jvp(
          x, output: y, times: times, parameters: parameters + parameterOffsets[l],
          inputTangents: current, directions: directions, into: target,
          activated: (
            activations(l + 1).1, MutableMatrixView(base: activated, rows: rows, columns: width)
          ), streamingOutput: streamingFusedOutputs)
        current = MatrixView(base: activated, rows: rows, columns: width)
        l += 2
        continue
      }
      layer.jvp(
        x, output: y, times: times, parameters: parameters + parameterOffsets[l],
        inputTangents: current, directions: directions, into: target)
      current = MatrixView(base: buffer, rows: rows, columns: width)
      l += 1
    }
    for r in 0..<rows {
      let (source, destination) = (current.row(r), result.row(r))
      for i in 0..<(directions * outputSize) { destination[i] = source[i] }
    }
  }

  /// The tangents into and out of layer `l` in the last JVP.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  private func tangentActivations(_ l: Int) -> (MatrixView<Scalar>, MatrixView<Scalar>) {
    let input =
      l == 0
      ? inputTangents
      : MatrixView(
        base: tangentOutputs[l - 1].base, rows: rows, columns: directions * layers[l].inputSize)
    return (
      input,
      MatrixView(
        base: tangentOutputs[l].base, rows: rows, columns: directions * layers[l].outputSize)
    )
  }

  /// The vector-Jacobian product of the pair map `(x, ẋ) ↦ (y, ẏ)` of the
  /// last forward and JVP passes, layer by layer (see ``Layer``): `x̄` into
  /// `dx`, `t̄` and the weighted `θ̄` **added**. Tangents of the input are held
  /// fixed (their cotangent is not returned). A concat-squash layer followed
  /// by a tanh takes the pair in one step
  /// (``ConcatSquashLinear/jvpBackward(throughTanh:_:output:times:parameters:inputTangents:outputTangents:directions:activatedCotangent:activatedTangentCotangent:inputCotangent:inputTangentCotangent:timeCotangents:parameterGradient:rowWeights:)``).
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  public func jvpBackward(
    times: UnsafePointer<Scalar>, parameters: UnsafePointer<Scalar>,
    outputCotangent dy: MatrixView<Scalar>, tangentCotangent dTangents: MatrixView<Scalar>,
    inputCotangent dx: MutableMatrixView<Scalar>?, timeCotangents: UnsafeMutablePointer<Scalar>?,
    parameterGradient: UnsafeMutablePointer<Scalar>?, rowWeights: UnsafePointer<Scalar>?
  ) {
    precondition(keepsLastOutput, "a backward pass needs forward(_:…) first, not evaluate(_:…)")
    var upstream = dy
    var upstreamTangents = dTangents
    var flip = false
    var l = layers.count - 1
    while l >= 0 {
      let first = jvpStepStart(endingAt: l)
      let layer = layers[first]
      var target: MutableMatrixView<Scalar>? = dx
      var tangentTarget: MutableMatrixView<Scalar>? = nil
      if first > 0 {
        let buffer =
          (keepsEveryCotangent ? inputCotangents[first] : flip ? cotangents.1 : cotangents.0)
          .reserve(rows * layer.inputSize)
        target = MutableMatrixView(base: buffer, rows: rows, columns: layer.inputSize)
        let width = directions * layer.inputSize
        let tangentBuffer =
          (keepsEveryCotangent
          ? inputTangentCotangents[first] : flip ? tangentCotangents.1 : tangentCotangents.0)
          .reserve(rows * width)
        tangentTarget = MutableMatrixView(base: tangentBuffer, rows: rows, columns: width)
      }
      jvpBackwardStep(
        from: first, through: l, times: times, parameters: parameters,
        outputCotangent: upstream, tangentCotangent: upstreamTangents, inputCotangent: target,
        inputTangentCotangent: tangentTarget, timeCotangents: timeCotangents,
        parameterGradient: parameterGradient, rowWeights: rowWeights)
      if first > 0, let target, let tangentTarget {
        upstream = MatrixView(base: target.base, rows: rows, columns: layer.inputSize)
        upstreamTangents = MatrixView(
          base: tangentTarget.base, rows: rows, columns: directions * layer.inputSize)
      }
      flip.toggle()
      l = first - 1
    }
    backwardKeptEveryCotangent = keepsEveryCotangent
  }

  /// The first layer of the JVP backward step that ends at layer `l`: the
  /// concat-squash layer before `l` when `l` is its tanh (the pair is one
  /// step), else `l` itself.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func jvpStepStart(endingAt l: Int) -> Int {
    l > 0 && tanhFollowed[l - 1] != nil ? l - 1 : l
  }

  /// One step of the JVP's backward pass over the last forward pass and JVP:
  /// layers `first ... l` (a concat-squash layer and its tanh, or one layer)
  /// from the cotangents of layer `l`'s output and output tangents; input
  /// cotangents into the targets when given, time cotangents and the
  /// weighted parameter gradient (of the whole network, offset here) added.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func jvpBackwardStep(
    from first: Int, through l: Int, times: UnsafePointer<Scalar>,
    parameters: UnsafePointer<Scalar>, outputCotangent dy: MatrixView<Scalar>,
    tangentCotangent dTangents: MatrixView<Scalar>, inputCotangent dx: MutableMatrixView<Scalar>?,
    inputTangentCotangent dInputTangents: MutableMatrixView<Scalar>?,
    timeCotangents: UnsafeMutablePointer<Scalar>?, parameterGradient: UnsafeMutablePointer<Scalar>?,
    rowWeights: UnsafePointer<Scalar>?
  ) {
    let (x, y) = activations(first)
    let (tangentIn, tangentOut) = tangentActivations(first)
    let gradient = parameterGradient.map { $0 + parameterOffsets[first] }
    if first < l, let fused = tanhFollowed[first] {
      fused.jvpBackward(
        throughTanh: activations(l).1, x, output: y, times: times,
        parameters: parameters + parameterOffsets[first], inputTangents: tangentIn,
        outputTangents: tangentOut, directions: directions, activatedCotangent: dy,
        activatedTangentCotangent: dTangents, inputCotangent: dx,
        inputTangentCotangent: dInputTangents, timeCotangents: timeCotangents,
        parameterGradient: gradient, rowWeights: rowWeights)
    } else {
      guard let layer = tangentDifferentiableLayers[first] else {
        preconditionFailure(
          "layer \(first) (\(type(of: layers[first]))) cannot differentiate its JVP")
      }
      layer.jvpBackward(
        x, output: y, times: times, parameters: parameters + parameterOffsets[first],
        inputTangents: tangentIn, outputTangents: tangentOut, directions: directions,
        outputCotangent: dy, tangentCotangent: dTangents, inputCotangent: dx,
        inputTangentCotangent: dInputTangents, timeCotangents: timeCotangents,
        parameterGradient: gradient, rowWeights: rowWeights)
    }
  }
}
