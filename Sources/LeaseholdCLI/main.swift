print("leasehold: not yet implemented")
