print("fencing-demo: not yet implemented")
