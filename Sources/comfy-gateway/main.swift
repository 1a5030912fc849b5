import GatewayKit

GatewayCommand.start()
