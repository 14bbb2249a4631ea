print("fenced-resource: not yet implemented")
