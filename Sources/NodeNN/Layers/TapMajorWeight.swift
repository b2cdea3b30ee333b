import NodeCore

/// A convolution weight `[O, C, taps]` rearranged as `[O, taps, C]` (the
/// lane kernels' order), or for the transposed convolution as
/// `[C, taps, O]` with the taps reversed, kept while the weight's values
/// stay the same.
final class TapMajorWeight<Scalar: TensorScalar> {
  /// Whether the copy is the transposed convolution's: the roles of the
  /// channels swapped and the taps reversed, the kernel turned round as
  /// ``ConvolutionLaneMap/transposedMap`` reads it.
  let transposed: Bool
  private let rearranged = ScratchBuffer<Scalar>()
  private let source = ValueSnapshot<Scalar>()

  /// A cache of the forward (or, `transposed`, the transposed) layout.
  init(transposed: Bool = false) { self.transposed = transposed }

  /// The rearranged copy of `w` (`outputs · channels · taps` values); valid
  /// until the next call.
  @_specialize(where Scalar == Float)
  @_specialize(where Scalar == Double)
  func of(_ w: UnsafePointer<Scalar>, outputs: Int, channels: Int, taps: Int)
    -> UnsafeMutablePointer<Scalar>
  {
    let count = outputs * channels * taps
    let target = rearranged.reserve(count)
    if source.holds(w, count: count) { return target }
    let patch = channels * taps
    for o in 0..<outputs {
      for c in 0..<channels {
        for t in 0..<taps {
          let value = w[o &* patch &+ c &* taps &+ t]
          if transposed {
            target[c &* taps &* outputs &+ (taps - 1 - t) &* outputs &+ o] = value
          } else {
            target[o &* patch &+ t &* channels &+ c] = value
          }
        }
      }
    }
    source.take(w, count: count)
    return target
  }
}
