import * as echarts from 'echarts/core';
import { BarChart, LineChart, ParallelChart, ScatterChart } from 'echarts/charts';
import {
  GridComponent, LegendComponent, MarkLineComponent, ParallelComponent, TitleComponent,
  TooltipComponent, VisualMapComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([
  BarChart, LineChart, ParallelChart, ScatterChart, GridComponent, LegendComponent,
  MarkLineComponent, ParallelComponent, TitleComponent, TooltipComponent, VisualMapComponent,
  CanvasRenderer,
]);
window.echarts = echarts;
