import NodeCore

extension Sequential {
  /// The high word of every initialisation stream ("INIT"), apart from the
  /// streams that data sampling and augmentation use.
  public static var initializationStreamTag: UInt64 { 0x494E_4954 }

  /// Fresh parameters, each tensor drawn as its layer declares
  /// (``ParameterInitialization``: Kaiming-uniform for linear and
  /// convolution layers, ones and zeros for norms) from its own stream of the
  /// counter-based generator: tensor `i` of the chain uses stream
  /// `(tag << 32) | (stream << 16) | i`. The result is a pure function of
  /// `(seed, stream)`; give each chain of a model its own `stream`.
  public func initialParameters(seed: UInt64, stream: UInt64 = 0) -> [Scalar] {
    precondition(stream < 1 << 16, "an initialisation stream must be below 65536, got \(stream)")
    let random = CounterRandom(seed: seed)
    var values = [Scalar](repeating: 0, count: parameterCount)
    values.withUnsafeMutableBufferPointer { buffer in
      var index: UInt64 = 0
      for (l, layer) in layers.enumerated() {
        var offset = parameterOffsets[l]
        for tensor in layer.parameterTensors {
          tensor.initialization.fill(
            buffer.baseAddress! + offset, count: tensor.count, random: random,
            stream: Self.initializationStreamTag << 32 | stream << 16 | index)
          offset += tensor.count
          index += 1
        }
      }
    }
    return values
  }
}
