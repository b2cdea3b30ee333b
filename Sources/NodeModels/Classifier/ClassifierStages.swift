import NodeCore
import NodeNN

/// The layers the paper's MNIST classifiers share (torchdiffeq's
/// `odenet_mnist.py`): the downsampling stem before the feature layers and
/// the head after them, for `1 × 28 × 28` images and `width` channels.
/// GroupNorms have `min(32, width)` groups.
enum ClassifierStages {
  /// The side of the feature maps between stem and head.
  static let featureSide = 6

  /// The number of GroupNorm groups at `width` channels.
  static func groups(width: Int) -> Int { Swift.min(32, width) }

  /// Conv 3×3 1→w, GroupNorm, ReLU, conv 4×4 stride 2 pad 1, GroupNorm, ReLU,
  /// conv 4×4 stride 2 pad 1: `1 × 28 × 28` → `w × 6 × 6`. Named `down.*`.
  static func downsampling<Scalar: TensorScalar>(width: Int, as _: Scalar.Type = Scalar.self)
    -> (layers: [any Layer<Scalar>], names: [String?])
  {
    let groups = groups(width: width)
    let c1 = ConvolutionGeometry(
      inputChannels: 1, outputChannels: width, kernel: (3, 3), input: (28, 28))
    let c2 = ConvolutionGeometry(
      inputChannels: width, outputChannels: width, kernel: (4, 4), stride: 2, padding: 1,
      input: (26, 26))
    let c3 = ConvolutionGeometry(
      inputChannels: width, outputChannels: width, kernel: (4, 4), stride: 2, padding: 1,
      input: (13, 13))
    return (
      [
        Conv2d<Scalar>(c1), GroupNorm<Scalar>(groups: groups, channels: width, pixels: 26 * 26),
        ElementwiseActivation<Scalar>(.relu, size: width * 26 * 26),
        Conv2d<Scalar>(c2), GroupNorm<Scalar>(groups: groups, channels: width, pixels: 13 * 13),
        ElementwiseActivation<Scalar>(.relu, size: width * 13 * 13), Conv2d<Scalar>(c3),
      ],
      ["down.conv1", "down.norm1", nil, "down.conv2", "down.norm2", nil, "down.conv3"]
    )
  }

  /// GroupNorm, ReLU, global average pool, linear w→10. Named `head.*`.
  static func head<Scalar: TensorScalar>(width: Int, as _: Scalar.Type = Scalar.self)
    -> (layers: [any Layer<Scalar>], names: [String?])
  {
    let pixels = featureSide * featureSide
    return (
      [
        GroupNorm<Scalar>(groups: groups(width: width), channels: width, pixels: pixels),
        ElementwiseActivation<Scalar>(.relu, size: width * pixels),
        GlobalAveragePool<Scalar>(channels: width, pixels: pixels),
        Linear<Scalar>(inputs: width, outputs: 10),
      ],
      ["head.norm", nil, nil, "head.fc"]
    )
  }
}
