import Foundation
import NodeCore

extension Sequential {
  /// The flat parameters read from a safetensors file holding exactly this
  /// chain's tensors under ``namedParameters``' names and shapes.
  ///
  /// - Parameter ignoringOthers: accept tensors the chain does not have
  ///   (a model made of several chains checks those itself).
  /// - Throws: ``SafetensorsError`` naming a missing tensor, a tensor of
  ///   another shape (both shapes), or tensors the chain does not have.
  public func parameters(from file: SafetensorsFile, ignoringOthers: Bool = false) throws
    -> [Scalar]
  {
    let named = namedParameters
    let expected = Set(named.map(\.name))
    let extra = file.tensorNames.filter { !expected.contains($0) }
    if !extra.isEmpty && !ignoringOthers {
      throw SafetensorsError.unexpectedTensors(
        source: file.source, tensors: extra, expected: named.map(\.name))
    }
    var flat = [Scalar](repeating: 0, count: parameterCount)
    for (name, offset, shape) in named {
      let tensor: Tensor<Scalar> = try file.tensor(name, expectedShape: shape)
      flat.replaceSubrange(offset..<(offset + tensor.count), with: tensor.scalars)
    }
    return flat
  }

  /// The named tensors of flat `parameters`, for ``SafetensorsWriter``.
  public func tensors(of parameters: [Scalar]) -> [String: Tensor<Scalar>] {
    var result: [String: Tensor<Scalar>] = [:]
    for (name, offset, shape) in namedParameters {
      let count = shape.reduce(1, *)
      result[name] = Tensor(shape: shape, scalars: Array(parameters[offset..<(offset + count)]))
    }
    return result
  }
}
