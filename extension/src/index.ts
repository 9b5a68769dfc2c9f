// Harvest Studio in JupyterLab: the sidebar, explorer documents, the status bar item,
// palette commands and the launcher card for the tour. Everything it shows comes from
// the server extension under <base_url>/harvest/ (no kernel needed).
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  Notification,
  WidgetTracker,
  MainAreaWidget
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';

import { harvestUrl, request } from './api';
import { ExplorerContent, openExplorer } from './explorer';
import { HarvestSidebar } from './sidebar';
import { RunCountsItem } from './status';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16">
<path class="jp-icon3" fill="#616161" d="M12 2c-1.6 1.6-2.4 3.4-2.4 5.3 0 1.3.4 2.5 1.2 3.6V22h2.4V10.9c.8-1.1 1.2-2.3 1.2-3.6C14.4 5.4 13.6 3.6 12 2zm-6.8 6.4c.2 2.3 1.2 4.1 3.1 5.3l1.3.8v-2.7l-.4-.3c-1.4-.9-2.4-1.9-4-3.1zm13.6 0c-1.6 1.2-2.6 2.2-4 3.1l-.4.3v2.7l1.3-.8c1.9-1.2 2.9-3 3.1-5.3z"/>
</svg>`;
const harvestIcon = new LabIcon({ name: 'harvest-studio:icon', svgstr: ICON_SVG });

namespace CommandIDs {
  export const openRun = 'harvest:open-run';
  export const startWorker = 'harvest:start-worker';
  export const openDashboard = 'harvest:open-dashboard';
  export const openTour = 'harvest:open-tour';
  export const showSidebar = 'harvest:show-sidebar';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'harvest-studio:plugin',
  description: 'Harvest Studio: runs, explorers and live counts inside JupyterLab',
  autoStart: true,
  optional: [ICommandPalette, ILauncher, IStatusBar, INotebookTracker, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    statusBar: IStatusBar | null,
    notebooks: INotebookTracker | null,
    restorer: ILayoutRestorer | null
  ) => {
    const explorers = new WidgetTracker<MainAreaWidget<ExplorerContent>>({
      namespace: 'harvest-explorer'
    });
    // explorer tabs come back after a page reload, opened again from their run
    void restorer?.restore(explorers, {
      command: CommandIDs.openRun,
      args: widget => ({ run: widget.content.runId || widget.content.ref }),
      name: widget => widget.content.runId || widget.content.ref
    });

    const insertCell = (code: string): boolean => {
      const panel = notebooks?.currentWidget;
      if (!panel) {
        return false;
      }
      NotebookActions.insertBelow(panel.content);
      panel.content.activeCell?.model.sharedModel.setSource(code);
      app.shell.activateById(panel.id);
      return true;
    };

    const showRun = (ref: string) =>
      openExplorer(ref, insertCell, widget => {
        app.shell.add(widget, 'main');
        void explorers.add(widget);
        app.shell.activateById(widget.id);
      });

    const sidebar = new HarvestSidebar(runId => void showRun(runId));
    sidebar.title.icon = harvestIcon;
    app.shell.add(sidebar, 'left', { rank: 650 });
    restorer?.add(sidebar, 'harvest-sidebar');

    app.commands.addCommand(CommandIDs.showSidebar, {
      label: 'Harvest: Show the Runs Sidebar',
      execute: () => app.shell.activateById(sidebar.id)
    });

    app.commands.addCommand(CommandIDs.openRun, {
      label: 'Harvest: Open Run by Id…',
      icon: harvestIcon,
      execute: async args => {
        let ref = typeof args.run === 'string' ? args.run : '';
        if (!ref) {
          const answer = await InputDialog.getText({
            title: 'Open a Harvest run',
            label: 'Run id or workflow id',
            placeholder: 'onboarding-42'
          });
          ref = (answer.value ?? '').trim();
          if (!answer.button.accept || !ref) {
            return;
          }
        }
        await showRun(ref);
      }
    });

    app.commands.addCommand(CommandIDs.startWorker, {
      label: "Harvest: Start a Worker in This Notebook's Kernel",
      isEnabled: () => !!notebooks?.currentWidget,
      execute: async () => {
        const panel = notebooks?.currentWidget;
        const kernel = panel?.sessionContext.session?.kernel;
        if (!panel || !kernel) {
          Notification.warning('Open a notebook with a running kernel first.', {
            autoClose: 4000
          });
          return;
        }
        const lines: string[] = [];
        const future = kernel.requestExecute({
          code: '%load_ext harvest_studio\n%harvest worker start',
          store_history: false
        });
        future.onIOPub = msg => {
          const content: any = msg.content;
          if (msg.header.msg_type === 'stream') {
            lines.push(content.text);
          } else if (['execute_result', 'display_data'].includes(msg.header.msg_type)) {
            lines.push(content.data?.['text/plain'] ?? '');
          } else if (msg.header.msg_type === 'error') {
            lines.push(`${content.ename}: ${content.evalue}`);
          }
        };
        const reply: any = await future.done;
        const text = lines.join('').trim() || 'worker started';
        if (reply.content.status === 'ok') {
          Notification.success(text.slice(0, 300), { autoClose: 6000 });
        } else {
          Notification.error(text.slice(0, 300), { autoClose: false });
        }
      }
    });

    app.commands.addCommand(CommandIDs.openDashboard, {
      label: 'Harvest: Open the Dashboard',
      execute: async () => {
        const info = await request<{ dashboard: string | null }>('lab/info');
        if (info.dashboard) {
          window.open(info.dashboard, '_blank', 'noopener');
        } else {
          Notification.info(
            'No dashboard is running. Start one with `harvest serve --dashboard` ' +
              '(extra: harvest-studio[dashboard]) and set HARVEST_DASHBOARD_URL for Jupyter.',
            { autoClose: false }
          );
        }
      }
    });

    app.commands.addCommand(CommandIDs.openTour, {
      label: 'Harvest Tour',
      caption: 'A two-minute tour of Harvest Studio (a notebook)',
      icon: harvestIcon,
      execute: async () => {
        const { path } = await request<{ path: string }>('lab/tour');
        await app.commands.execute('docmanager:open', { path });
      }
    });

    for (const command of [
      CommandIDs.openRun,
      CommandIDs.startWorker,
      CommandIDs.openDashboard,
      CommandIDs.openTour,
      CommandIDs.showSidebar
    ]) {
      palette?.addItem({ command, category: 'Harvest' });
    }
    launcher?.add({ command: CommandIDs.openTour, category: 'Notebook', rank: 0 });

    if (statusBar) {
      const item = new RunCountsItem(() => app.shell.activateById(sidebar.id));
      statusBar.registerStatusItem('harvest-studio:run-counts', {
        item,
        align: 'left',
        rank: 100
      });
    }
    console.debug('Harvest Studio extension is active:', harvestUrl(''));
  }
};

export default plugin;
