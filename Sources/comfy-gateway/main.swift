import GatewayKit

await GatewayCommand.start()
